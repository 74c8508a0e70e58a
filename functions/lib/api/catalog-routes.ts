import * as z from 'zod';
import { DEFAULT_TIMEOUT_MS } from '../core/endpoints.ts';
import { eventTypeNamePattern, MAX_SCHEMA_BYTES, MAX_SCHEMA_PATTERNS } from '../core/event-types.ts';
import { MAX_FILTER_BYTES } from '../core/filters.ts';
import { type Endpoint, type EventType, endpointModes, retryPresets } from '../core/model.ts';
import { MAX_CUSTOM_DELAY_SECONDS, MAX_CUSTOM_DELAYS, MIN_CUSTOM_DELAY_SECONDS } from '../core/retry-schedule.ts';
import { defineRoute, ErrorBody, errorResponses, IdParams, jsonObject, notFound, PageQuery, pageOf, recordOf } from './route-spec.ts';

// Event types (§2)

const EventTypeName = z.string().max(200).regex(eventTypeNamePattern, 'must look like `lock.unlocked`: lower-case words joined by dots');
const NameParams = z.strictObject({ name: EventTypeName });

export const EventTypeView = z
  .object({
    name: z.string(),
    description: z.string().optional(),
    schema: jsonObject('JSON Schema (2020-12 unless `$schema` says draft-07)').optional(),
    builtIn: z
      .boolean()
      .optional()
      .meta({ description: "One of Sluice's operational events (docs/operational-events.md): the same for every tenant, read-only" }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'EventType' });

export const putEventType = defineRoute({
  name: 'put-event-type',
  method: 'PUT',
  path: '/v1/event-types/{name}',
  // Get (created or replaced?), Put
  uses: { ledger: 'write' },
  tag: 'Event types',
  summary: 'Create or replace an event type and its payload schema',
  access: ['admin'],
  // Portal sessions: the event catalog is the vendor's.
  portal: 'never',
  params: NameParams,
  body: z.strictObject({
    description: z.string().max(1000).optional(),
    schema: jsonObject(
      `JSON Schema (2020-12 unless \`$schema\` says draft-07): at most ${MAX_SCHEMA_BYTES / 1024} KiB and ${MAX_SCHEMA_PATTERNS} patterns, which use RE2 syntax`,
    ).optional(),
  }),
  maxBodyBytes: 256 * 1024,
  responses: {
    200: { description: 'Replaced', schema: EventTypeView },
    201: { description: 'Created', schema: EventTypeView },
    ...errorResponses,
  },
});

export const listEventTypes = defineRoute({
  name: 'list-event-types',
  method: 'GET',
  path: '/v1/event-types',
  uses: { ledger: 'read', queries: ['table'] },
  tag: 'Event types',
  summary: 'List event types (by name)',
  access: ['admin', 'ingest'],
  query: PageQuery.extend({
    builtIn: z
      .enum(['true', 'false'])
      .optional()
      .meta({ description: "`true`: the last page also lists Sluice's operational events, after the tenant's own types" }),
  }),
  responses: { 200: { description: 'Event types', schema: pageOf(EventTypeView, 'EventTypePage') }, ...errorResponses },
});

export const getEventType = defineRoute({
  name: 'get-event-type',
  method: 'GET',
  path: '/v1/event-types/{name}',
  uses: { ledger: 'read' },
  tag: 'Event types',
  summary: 'Get an event type',
  access: ['admin', 'ingest'],
  params: NameParams,
  responses: { 200: { description: 'The event type', schema: EventTypeView }, ...errorResponses, ...notFound },
});

export const deleteEventType = defineRoute({
  name: 'delete-event-type',
  method: 'DELETE',
  path: '/v1/event-types/{name}',
  uses: { ledger: 'delete' },
  tag: 'Event types',
  summary: 'Delete an event type',
  access: ['admin'],
  // Portal sessions: the event catalog is the vendor's.
  portal: 'never',
  params: NameParams,
  responses: { 204: { description: 'Deleted' }, ...errorResponses, ...notFound },
});

export function eventTypeView(eventType: EventType) {
  const { tenantId: _tenant, ...view } = eventType;
  return view;
}

// Endpoints (§3)

/** RFC 9110 `token`. */
const HeaderName = z
  .string()
  .max(256)
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "not a valid HTTP header name: use letters, digits and !#$%&'*+.^_`|~-");
/** RFC 9110 field value: visible ASCII with inner spaces and tabs; no CR, LF or other control characters. */
const HeaderValue = z
  .string()
  .max(4096)
  .regex(
    /^(?:[\x21-\x7e](?:[\t\x20-\x7e]*[\x21-\x7e])?)?$/,
    'header values are visible ASCII, with no control characters and no leading or trailing space',
  );
const MAX_CUSTOM_HEADERS = 20;
const MAX_CUSTOM_HEADER_BYTES = 8 * 1024;
const CustomHeaders = recordOf(HeaderName, HeaderValue)
  .refine((headers) => Object.keys(headers).length <= MAX_CUSTOM_HEADERS, `at most ${MAX_CUSTOM_HEADERS} headers`)
  .refine(
    (headers) => Object.entries(headers).reduce((sum, [name, value]) => sum + name.length + value.length + 4, 0) <= MAX_CUSTOM_HEADER_BYTES,
    `custom headers may total at most ${MAX_CUSTOM_HEADER_BYTES} bytes (names, values and ': ' separators)`,
  )
  .meta({
    description: `Sent with every delivery. At most ${MAX_CUSTOM_HEADERS} headers and ${MAX_CUSTOM_HEADER_BYTES / 1024} KiB; names are tokens, values visible ASCII; Sluice's own headers are reserved in any letter case.`,
  });
const RetryPolicy = z.union([
  z.strictObject({ preset: z.enum(retryPresets) }),
  z.strictObject({
    delaysSeconds: z.array(z.number().int().min(MIN_CUSTOM_DELAY_SECONDS).max(MAX_CUSTOM_DELAY_SECONDS)).min(1).max(MAX_CUSTOM_DELAYS),
  }),
]);
const BasicAuth = z.strictObject({ type: z.literal('basic'), username: z.string().min(1).max(200), password: z.string().min(1).max(200) });

/** An endpoint's filter: checked by the core (`parseFilter`), which names each problem. */
export const EndpointFilter = jsonObject(
  `Of the messages of its event types, the endpoint gets only those this filter holds for: paths into \`type\`, \`data\` (the payload) and \`metadata\`, with $eq $neq $gt $gte $lt $lte $in $nin $startsWith $endsWith $exist $and $or $not (docs/filters.md). At most ${MAX_FILTER_BYTES / 1024} KiB and 8 levels deep.`,
);

const endpointFields = {
  url: z
    .string()
    .max(2048)
    .meta({ example: 'https://example.com/webhooks', description: 'Required, but for a `poll` endpoint, which has none' }),
  description: z.string().max(1000),
  eventTypes: z.array(EventTypeName).max(200).meta({ description: 'Absent: every event type.' }),
  filter: EndpointFilter,
  mode: z.enum(endpointModes).meta({
    description:
      '`full` (default): the event is POSTed. `thin`: an empty signed notification; the receiver fetches and acknowledges. `poll`: nothing is sent; the receiver pulls from `GET /v1/inbox` and acknowledges',
  }),
  auth: BasicAuth,
  headers: CustomHeaders,
  retryPolicy: RetryPolicy,
  timeoutMs: z
    .number()
    .int()
    .min(1000)
    .max(30_000)
    .meta({ description: `Default ${DEFAULT_TIMEOUT_MS}` }),
  rateLimitPerSecond: z.number().int().min(1).max(10_000),
  deviceId: z.string().min(1).max(200),
  groups: z.array(z.string().min(1).max(100)).max(50),
  disabled: z.boolean(),
  userAgent: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x20-\x7e]+$/, 'printable ASCII only'),
};

export const CreateEndpointBody = z.strictObject({
  url: endpointFields.url.optional(),
  description: endpointFields.description.optional(),
  eventTypes: endpointFields.eventTypes.optional(),
  filter: endpointFields.filter.optional(),
  mode: endpointFields.mode.optional(),
  auth: endpointFields.auth.optional(),
  headers: endpointFields.headers.optional(),
  retryPolicy: endpointFields.retryPolicy.optional(),
  timeoutMs: endpointFields.timeoutMs.optional(),
  rateLimitPerSecond: endpointFields.rateLimitPerSecond.optional(),
  deviceId: endpointFields.deviceId.optional(),
  groups: endpointFields.groups.optional(),
  disabled: endpointFields.disabled.optional(),
  userAgent: endpointFields.userAgent.optional(),
});

export const UpdateEndpointBody = z.strictObject({
  url: endpointFields.url.optional(),
  description: endpointFields.description.nullable().optional(),
  eventTypes: endpointFields.eventTypes.nullable().optional(),
  filter: endpointFields.filter.nullable().optional(),
  mode: endpointFields.mode.optional(),
  auth: endpointFields.auth.nullable().optional(),
  headers: endpointFields.headers.nullable().optional(),
  retryPolicy: endpointFields.retryPolicy.optional(),
  timeoutMs: endpointFields.timeoutMs.optional(),
  rateLimitPerSecond: endpointFields.rateLimitPerSecond.nullable().optional(),
  deviceId: endpointFields.deviceId.nullable().optional(),
  groups: endpointFields.groups.nullable().optional(),
  disabled: endpointFields.disabled.optional(),
  userAgent: endpointFields.userAgent.nullable().optional(),
});

export const EndpointView = z
  .object({
    id: z.string(),
    url: z.string().optional().meta({ description: 'Absent for a poll endpoint' }),
    description: z.string().optional(),
    eventTypes: z.array(z.string()).optional(),
    filter: jsonObject('The filter, as stored').optional(),
    mode: z.enum(endpointModes),
    auth: z
      .object({ type: z.literal('basic'), username: z.string() })
      .optional()
      .meta({ description: 'The password is never returned.' }),
    headers: z.record(z.string(), z.string()).optional(),
    retryPolicy: RetryPolicy,
    timeoutMs: z.number(),
    rateLimitPerSecond: z.number().optional(),
    deviceId: z.string().optional(),
    groups: z.array(z.string()).optional(),
    disabled: z.boolean(),
    disabledReason: z.string().optional(),
    userAgent: z.string().optional(),
    failingSince: z.string().optional().meta({ description: 'Start of the current run of failed attempts' }),
    consecutiveFailures: z.number().optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Endpoint' });

export const CreatedEndpoint = EndpointView.extend({
  secret: z.string().meta({ description: 'Signing secret (`whsec_…`); also at GET /v1/endpoints/{id}/secret.' }),
}).meta({ id: 'CreatedEndpoint' });

const forbiddenDestination = {
  description: 'Malformed request, or a URL the address guard refuses (`forbidden_destination`)',
  schema: ErrorBody,
};

export const createEndpoint = defineRoute({
  name: 'create-endpoint',
  method: 'POST',
  path: '/v1/endpoints',
  // Get of each subscribed event type, conditional Put; `endpoint.created` is routed by the
  // tenant's endpoints (Query) and stored (Put) when an endpoint subscribes to it.
  uses: { ledger: 'write', queries: ['table'] },
  idempotent: true,
  tag: 'Endpoints',
  summary: 'Subscribe a URL to event types',
  access: ['admin'],
  body: CreateEndpointBody,
  responses: {
    201: { description: 'The endpoint and its signing secret', schema: CreatedEndpoint },
    ...errorResponses,
    400: forbiddenDestination,
    422: { description: 'An event type in `eventTypes` is not declared', schema: ErrorBody },
  },
});

export const listEndpoints = defineRoute({
  name: 'list-endpoints',
  method: 'GET',
  path: '/v1/endpoints',
  uses: { ledger: 'read', queries: ['table'] },
  tag: 'Endpoints',
  summary: 'List endpoints',
  access: ['admin'],
  query: PageQuery,
  responses: { 200: { description: 'Endpoints, newest first', schema: pageOf(EndpointView, 'EndpointPage') }, ...errorResponses },
});

export const getEndpoint = defineRoute({
  name: 'get-endpoint',
  method: 'GET',
  path: '/v1/endpoints/{id}',
  uses: { ledger: 'read' },
  tag: 'Endpoints',
  summary: 'Get an endpoint',
  access: ['admin'],
  params: IdParams,
  responses: { 200: { description: 'The endpoint', schema: EndpointView }, ...errorResponses, ...notFound },
});

export const updateEndpoint = defineRoute({
  name: 'update-endpoint',
  method: 'PATCH',
  path: '/v1/endpoints/{id}',
  // Put of the whole endpoint; re-enabling it dates its waiting deliveries again (gsi3 by
  // status, a conditional Put each) and enqueues them on the primary lane only. Its operational
  // event (`endpoint.updated|enabled|disabled`) is routed (Query) and stored (Put).
  uses: { ledger: 'write', queries: ['gsi3', 'table'], sends: ['delivery'] },
  tag: 'Endpoints',
  summary: 'Change an endpoint (`null` clears an optional field)',
  access: ['admin'],
  params: IdParams,
  body: UpdateEndpointBody,
  responses: {
    200: { description: 'The endpoint after the change', schema: EndpointView },
    ...errorResponses,
    400: forbiddenDestination,
    ...notFound,
  },
});

export const deleteEndpoint = defineRoute({
  name: 'delete-endpoint',
  method: 'DELETE',
  path: '/v1/endpoints/{id}',
  // Delete of the endpoint; its `endpoint.deleted` event goes as a task to the retry lane, whose
  // consumer stores it: this route never puts.
  uses: { ledger: 'delete', sends: ['retry'] },
  tag: 'Endpoints',
  summary: 'Delete an endpoint (its open deliveries end as dead)',
  access: ['admin'],
  params: IdParams,
  responses: { 204: { description: 'Deleted' }, ...errorResponses, ...notFound },
});

export const SecretView = z
  .object({
    secret: z.string().meta({ description: 'The current signing secret' }),
    previous: z
      .array(z.object({ secret: z.string(), expiresAt: z.string() }))
      .optional()
      .meta({
        description: 'Rotated-out secrets that still sign until they expire',
      }),
  })
  .meta({ id: 'EndpointSecret' });

export const getEndpointSecret = defineRoute({
  name: 'get-endpoint-secret',
  method: 'GET',
  path: '/v1/endpoints/{id}/secret',
  uses: { ledger: 'read' },
  tag: 'Endpoints',
  summary: "Get an endpoint's signing secret",
  access: ['admin'],
  // Portal sessions: reveals the signing secret.
  portal: 'manage',
  params: IdParams,
  responses: { 200: { description: 'The secret(s)', schema: SecretView }, ...errorResponses, ...notFound },
});

export const rotateEndpointSecret = defineRoute({
  name: 'rotate-endpoint-secret',
  method: 'POST',
  path: '/v1/endpoints/{id}/secret/rotate',
  // Get, Put with the new secret list
  uses: { ledger: 'write' },
  idempotent: true,
  tag: 'Endpoints',
  summary: 'Rotate the signing secret: the old one keeps signing alongside for 24 h',
  access: ['admin'],
  params: IdParams,
  responses: {
    200: { description: 'The new secret and the previous one(s) with their expiry', schema: SecretView },
    ...errorResponses,
    ...notFound,
  },
});

export function endpointView(endpoint: Endpoint) {
  const { tenantId: _tenant, secrets: _secrets, auth, ...rest } = endpoint;
  return { ...rest, ...(auth && { auth: { type: auth.type, username: auth.username } }) };
}
