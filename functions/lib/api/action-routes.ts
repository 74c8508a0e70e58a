import * as z from 'zod';
import { type Action, actionKinds, type TriggerRecord } from '../core/model.ts';
import { defineRoute, ErrorBody, errorResponses, IdParams, jsonObject, notFound, PageQuery, pageOf } from './route-spec.ts';

const Target = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('device'), deviceId: z.string().min(1).max(200) }),
  z.strictObject({ type: z.literal('group'), group: z.string().min(1).max(100) }),
  z.strictObject({ type: z.literal('all') }),
]);

const common = { name: z.string().trim().min(1).max(200), eventId: z.string().min(1).max(200), target: Target };
const freeParams = jsonObject('Free-form parameters, passed to the devices as sent').optional();

/** One schema per action kind: `load_url` needs a valid `url`; the others take optional params. */
export const CreateActionBody = z.discriminatedUnion('action', [
  z.strictObject({ ...common, action: z.literal('load_url'), params: z.strictObject({ url: z.url({ protocol: /^https?$/ }) }) }),
  ...actionKinds
    .filter((kind) => kind !== 'load_url')
    .map((kind) => z.strictObject({ ...common, action: z.literal(kind), params: freeParams })),
] as unknown as [z.ZodObject, ...z.ZodObject[]]);

export const ActionView = z
  .object({
    id: z.string(),
    name: z.string(),
    eventId: z.string(),
    action: z.enum(actionKinds),
    params: z.record(z.string(), z.unknown()).optional(),
    target: Target,
    createdAt: z.string(),
  })
  .meta({ id: 'Action' });

export const createAction = defineRoute({
  name: 'create-action',
  method: 'POST',
  path: '/v1/actions',
  // transaction of two Puts (action, event-id index item)
  uses: { ledger: 'write' },
  idempotent: true,
  tag: 'Actions',
  summary: 'Map an inbound event_id to an action on devices',
  access: ['admin'],
  body: CreateActionBody,
  responses: {
    201: { description: 'The action', schema: ActionView },
    ...errorResponses,
    409: { description: 'The tenant already has an action for this eventId', schema: ErrorBody },
  },
});

export const listActions = defineRoute({
  name: 'list-actions',
  method: 'GET',
  path: '/v1/actions',
  uses: { ledger: 'read', queries: ['table'] },
  tag: 'Actions',
  summary: 'List actions',
  access: ['admin'],
  query: PageQuery,
  responses: { 200: { description: 'Actions', schema: pageOf(ActionView, 'ActionPage') }, ...errorResponses },
});

export const getAction = defineRoute({
  name: 'get-action',
  method: 'GET',
  path: '/v1/actions/{id}',
  uses: { ledger: 'read' },
  tag: 'Actions',
  summary: 'Get an action',
  access: ['admin'],
  params: IdParams,
  responses: { 200: { description: 'The action', schema: ActionView }, ...errorResponses, ...notFound },
});

export const deleteAction = defineRoute({
  name: 'delete-action',
  method: 'DELETE',
  path: '/v1/actions/{id}',
  // Get, then a transaction of two Deletes
  uses: { ledger: 'delete' },
  tag: 'Actions',
  summary: 'Delete an action (its event_id stops triggering at once)',
  access: ['admin'],
  params: IdParams,
  responses: { 204: { description: 'Deleted' }, ...errorResponses, ...notFound },
});

export const getTriggerUrl = defineRoute({
  name: 'get-trigger-url',
  method: 'GET',
  path: '/v1/actions/{id}/trigger-url',
  // action Get, key reveal (Get)
  uses: { ledger: 'read' },
  tag: 'Actions',
  summary: 'A ready GET URL that triggers the action with the given inbound key',
  access: ['admin'],
  // Portal sessions: the URL carries an inbound key.
  portal: 'manage',
  params: IdParams,
  query: z.strictObject({ keyId: z.string().min(1).max(64) }),
  responses: { 200: { description: 'The URL', schema: z.object({ url: z.string() }) }, ...errorResponses, ...notFound },
});

export const TriggerView = z
  .object({
    id: z.string(),
    at: z.string(),
    keyId: z.string(),
    sourceIp: z.string(),
    eventId: z.string(),
    outcome: z.enum(['delivered', 'rejected']),
    messageId: z.string().optional(),
    deliveries: z.number().optional(),
    error: z.string().optional(),
  })
  .meta({ id: 'Trigger' });

export const listActionTriggers = defineRoute({
  name: 'list-action-triggers',
  method: 'GET',
  path: '/v1/actions/{id}/triggers',
  // action Get; the action's TRG partition
  uses: { ledger: 'read', queries: ['table'] },
  tag: 'Actions',
  summary: 'Every trigger of an action: time, key id (never the key), source IP, outcome',
  access: ['admin'],
  params: IdParams,
  query: PageQuery,
  responses: { 200: { description: 'Triggers, newest first', schema: pageOf(TriggerView, 'TriggerPage') }, ...errorResponses, ...notFound },
});

export function actionView(action: Action) {
  const { tenantId: _tenant, ...view } = action;
  return view;
}

export function triggerView(trigger: TriggerRecord) {
  const { tenantId: _tenant, actionId: _action, ...view } = trigger;
  return view;
}

// Inbound hooks (§7): their own answer shape, kept compatible with the seed integration.

export const HookBody = z.strictObject({
  event_id: z.string().min(1).max(200),
  sensor_data: z
    .strictObject({
      id: z.string().min(1).max(200),
      event: z.string().min(1).max(200),
      value: z.union([z.string().max(1000), z.number(), z.boolean()]),
    })
    .optional(),
});

const HookSuccess = z.object({ message: z.literal('success'), actionId: z.string(), deliveries: z.number() }).meta({ id: 'HookSuccess' });
const HookError = z.object({ message: z.literal('Error'), error: z.string() }).meta({ id: 'HookError' });
const hookErrors = {
  400: { description: 'Bad body or payload (including sensor_data missing for send_sensor_event)', schema: HookError },
  401: { description: 'Missing, unknown or revoked key, or a key without the inbound scope', schema: HookError },
  404: { description: 'No action for that event_id', schema: HookError },
  413: { description: 'Body or payload over 16 KiB', schema: HookError },
  429: { description: 'Too many triggers for this key', schema: HookError },
} as const;

export const postHook = defineRoute({
  name: 'post-hook',
  method: 'POST',
  path: '/v1/hooks',
  // `HookService.trigger`: per-key rate counter (Update), action by event id (two Gets), trigger
  // record (Put), the tenant's endpoints (Query, cached) and a `device.command` message for the
  // targeted devices (Put), which dispatch queues: the hooks send nothing.
  uses: { ledger: 'write', queries: ['table'] },
  tag: 'Inbound hooks',
  summary: 'Trigger an action (key in `x-webhook-apikey`)',
  access: 'public',
  hookKey: 'header',
  body: HookBody,
  responses: { 200: { description: 'Sent to the targeted devices', schema: HookSuccess }, ...hookErrors },
});

export const getHook = defineRoute({
  name: 'get-hook',
  method: 'GET',
  path: '/v1/hooks',
  // The same trigger as post-hook, with the key and payload in the URL.
  uses: { ledger: 'write', queries: ['table'] },
  tag: 'Inbound hooks',
  summary: 'Trigger an action from a URL: `?api_key=…&payload=<URL-encoded base64 of the POST body>`',
  access: 'public',
  hookKey: 'query',
  query: z.object({ payload: z.string().optional().meta({ description: 'URL-encoded base64 of the POST body' }) }),
  responses: { 200: { description: 'Sent to the targeted devices', schema: HookSuccess }, ...hookErrors },
});
