import * as z from 'zod';
import { LATENCY_SAMPLE_SIZE, MAX_COUNTED_DELIVERIES, type StatsBucket as StatsBucketName } from '../core/endpoint-stats.ts';
import { MAX_PAYLOAD_BYTES } from '../core/messages.ts';
import { type Attempt, type Delivery, type DeliveryEvent, deliveryStatuses, type Message } from '../core/model.ts';
import { isScheduled, type MessageStatus as MessageStatusName, messageStatus } from '../core/schedule.ts';
import { RawJson } from './raw-json.ts';
import {
  defineRoute,
  ErrorBody,
  errorResponses,
  HistoryPageQuery,
  IdempotencyKeyHeader,
  IdParams,
  jsonObject,
  notFound,
  PageQuery,
  pageOf,
  recordOf,
} from './route-spec.ts';

// Messages (§4)

export const MAX_METADATA_ENTRIES = 16;
export const MAX_METADATA_BYTES = 2048;

/**
 * A message's labels for filtering (`metadata.<key>` in an endpoint's filter), kept with the
 * message and never sent to receivers. Keys are names a filter path can hold (no dots).
 */
export const MessageMetadata = recordOf(
  z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'metadata keys are 1 to 64 letters, digits, `_` or `-`'),
  z.string().max(256),
)
  .refine((metadata) => Object.keys(metadata).length <= MAX_METADATA_ENTRIES, `at most ${MAX_METADATA_ENTRIES} metadata entries`)
  .refine(
    (metadata) => Buffer.byteLength(JSON.stringify(metadata)) <= MAX_METADATA_BYTES,
    `metadata may total at most ${MAX_METADATA_BYTES} bytes as JSON`,
  )
  .meta({
    description: `String labels for endpoint filters (\`metadata.region\`), at most ${MAX_METADATA_ENTRIES} entries and ${MAX_METADATA_BYTES / 1024} KiB; stored with the message, not sent to receivers`,
    example: { region: 'eu-west-1' },
  });

const MessageStatus = z.enum(['scheduled', 'cancelled', 'dispatched'] as const satisfies readonly MessageStatusName[]).meta({
  description:
    '`scheduled`: waiting for its `deliverAt` (it can be cancelled); `cancelled`: cancelled before it, never sent; `dispatched`: fanned out to its endpoints (at once, for a message without `deliverAt`)',
});

export const MessageAccepted = z
  .object({
    id: z.string(),
    type: z.string(),
    createdAt: z.string(),
    status: MessageStatus,
    deliverAt: z.string().optional().meta({ description: 'When it fans out, for a scheduled message' }),
    cancelledAt: z.string().optional(),
  })
  .meta({ id: 'MessageAccepted' });
export const MessageView = MessageAccepted.extend({
  payload: z.record(z.string(), z.unknown()),
  metadata: z.record(z.string(), z.string()).optional(),
}).meta({ id: 'Message' });

export const createMessage = defineRoute({
  name: 'create-message',
  method: 'POST',
  path: '/v1/messages',
  // The event type (Get, cached); the tenant's endpoints (a Query of its EP# items, cached a few
  // seconds) to route the message; one conditional Put of the message with its targets. It queues
  // nothing: dispatch turns the stored message into jobs, from the ledger's stream.
  uses: { ledger: 'write', queries: ['table'] },
  tag: 'Messages',
  summary: 'Post an event: validated, stored, then fanned out to subscribed endpoints',
  access: ['ingest'],
  // Portal sessions: only the vendor sends messages.
  portal: 'never',
  body: z.strictObject({
    type: z.string().min(1).max(200),
    payload: jsonObject('Any JSON object, at most 256 KiB and 64 levels deep; receivers get exactly this text'),
    metadata: MessageMetadata.optional(),
    deliverAt: z.iso.datetime({ offset: true }).optional().meta({
      description:
        'Fan out at this time instead of now: at most 7 days ahead. A time up to a minute past is sent at once; the endpoints are chosen when the message is accepted',
      example: '2026-12-01T09:00:00Z',
    }),
  }),
  headers: IdempotencyKeyHeader,
  // The envelope may add a little to the 256 KiB payload; the payload itself is measured by the core.
  maxBodyBytes: MAX_PAYLOAD_BYTES + 16 * 1024,
  responses: {
    202: { description: 'Accepted (or the first message for this Idempotency-Key)', schema: MessageAccepted },
    ...errorResponses,
    413: { description: 'Payload over 256 KiB', schema: ErrorBody },
    400: { description: 'The body is not valid, or `deliverAt` is in the past or more than 7 days ahead', schema: ErrorBody },
    422: {
      description: 'Unknown event type, the payload fails its schema, or an `Idempotency-Key` reused for a different request',
      schema: ErrorBody,
    },
    429: {
      description: "Over the tenant's ingest budget; `Retry-After` says when to come back",
      schema: ErrorBody,
      headers: { 'retry-after': 'Seconds to wait before retrying' },
    },
  },
});

export const listMessages = defineRoute({
  name: 'list-messages',
  method: 'GET',
  path: '/v1/messages',
  // by tenant, filtered by type in the index; BatchGet of the page
  uses: { ledger: 'read', queries: ['gsi1'] },
  tag: 'Messages',
  summary: 'List messages, newest first',
  access: ['admin', 'ingest'],
  query: HistoryPageQuery.extend({ type: z.string().min(1).max(200).optional() }),
  responses: { 200: { description: 'Messages', schema: pageOf(MessageView, 'MessagePage') }, ...errorResponses },
});

export const getMessage = defineRoute({
  name: 'get-message',
  method: 'GET',
  path: '/v1/messages/{id}',
  uses: { ledger: 'read' },
  tag: 'Messages',
  summary: 'Get a message with its payload',
  access: ['admin', 'ingest'],
  params: IdParams,
  responses: { 200: { description: 'The message', schema: MessageView }, ...errorResponses, ...notFound },
});

export const cancelMessage = defineRoute({
  name: 'cancel-message',
  method: 'DELETE',
  path: '/v1/messages/{id}',
  // Get, then one conditional Update that marks it cancelled and takes it out of the sweeper's index (gsi5)
  uses: { ledger: 'read' },
  tag: 'Messages',
  summary: 'Cancel a scheduled message before its `deliverAt`',
  description:
    'It will never fan out; the message stays, with `status: cancelled`. Cancelling it again answers the same. ' +
    'A message that was not scheduled, or whose time has come, cannot be cancelled (409).',
  access: ['admin', 'ingest'],
  // Portal sessions: only the vendor sends messages.
  portal: 'never',
  params: IdParams,
  responses: {
    200: { description: 'The cancelled message', schema: MessageView },
    ...errorResponses,
    ...notFound,
    409: { description: 'Not scheduled, or already fanned out', schema: ErrorBody },
  },
});

export const messageAccepted = (message: Message, now: Date) => ({
  id: message.id,
  type: message.type,
  createdAt: message.createdAt,
  status: messageStatus(message, now),
  ...(isScheduled(message) && { deliverAt: message.deliverAt }),
  ...(message.cancelledAt && { cancelledAt: message.cancelledAt }),
});
export const messageView = (message: Message, now: Date) => ({
  ...messageAccepted(message, now),
  payload: new RawJson(message.payloadJson),
  ...(message.metadata && { metadata: message.metadata }),
});

// Deliveries and attempts (§5)

const DeliveryStatus = z.enum(deliveryStatuses);

export const DeliveryView = z
  .object({
    id: z.string(),
    messageId: z.string(),
    endpointId: z.string(),
    eventType: z.string(),
    status: DeliveryStatus,
    attemptCount: z.number(),
    scheduledAttempts: z.number().meta({ description: 'Attempts made on the retry schedule; manual attempts do not use up a retry' }),
    nextAttemptAt: z.string().optional(),
    lastAttemptAt: z.string().optional(),
    lastStatusCode: z.number().optional(),
    lastError: z.string().optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Delivery' });

export const AttemptView = z
  .object({
    attempt: z.number(),
    trigger: z.enum(['scheduled', 'manual']),
    startedAt: z.string(),
    durationMs: z.number(),
    statusCode: z.number().optional(),
    error: z.string().optional(),
    responseBody: z.string().optional().meta({ description: 'First 4 KiB of the response' }),
    outcome: z.enum(['succeeded', 'failed', 'gone']),
  })
  .meta({ id: 'Attempt' });

export const DeliveryEventView = z
  .object({ type: z.enum(['fetched', 'acknowledged']), at: z.string(), keyId: z.string().meta({ description: 'The API key that did it' }) })
  .meta({ id: 'DeliveryEvent' });

export const DeliveryDetail = DeliveryView.extend({
  attempts: z.array(AttemptView),
  events: z.array(DeliveryEventView).meta({ description: 'Thin mode: every inbox fetch and the ack, oldest first' }),
}).meta({ id: 'DeliveryDetail' });

export function deliveryEventView(event: DeliveryEvent) {
  return { type: event.type, at: event.at, keyId: event.keyId };
}

export const listMessageDeliveries = defineRoute({
  name: 'list-message-deliveries',
  method: 'GET',
  path: '/v1/messages/{id}/deliveries',
  // message Get; the message's partition
  uses: { ledger: 'read', queries: ['table'] },
  tag: 'Deliveries',
  summary: 'The deliveries of a message, with their status',
  access: ['admin', 'ingest'],
  params: IdParams,
  query: PageQuery,
  responses: { 200: { description: 'Deliveries', schema: pageOf(DeliveryView, 'DeliveryPage') }, ...errorResponses, ...notFound },
});

export const listEndpointDeliveries = defineRoute({
  name: 'list-endpoint-deliveries',
  method: 'GET',
  path: '/v1/endpoints/{id}/deliveries',
  // by endpoint (gsi2) or endpoint and open status (gsi3)
  uses: { ledger: 'read', queries: ['gsi2', 'gsi3'] },
  tag: 'Deliveries',
  summary: 'Delivery history of an endpoint, optionally by status',
  access: ['admin'],
  params: IdParams,
  query: HistoryPageQuery.extend({ status: DeliveryStatus.optional() }),
  responses: {
    200: { description: 'Deliveries, newest first', schema: pageOf(DeliveryView, 'EndpointDeliveryPage') },
    ...errorResponses,
    ...notFound,
  },
});

const count = (description: string) => z.number().int().min(0).meta({ description });

/** Deliveries by status; `deliveries` is their sum. */
const statusCounts = {
  deliveries: count('Deliveries recorded in the ledger, every status'),
  succeeded: count('Delivered (full mode)'),
  failed: count('Failing, with a retry scheduled'),
  dead: count('Retries exhausted (dead letters)'),
  pending: count('Waiting: thin notifications not yet acknowledged, paused or disabled endpoints, redrives'),
  acknowledged: count('Thin mode: fetched and acknowledged by the receiver'),
};

export const DeliveryCounts = z.object(statusCounts).meta({ id: 'DeliveryCounts' });
export const StatsBucket = z
  .object({
    start: z.string().meta({ description: 'Start of the bucket (UTC); the first and last may be cut by the window' }),
    ...statusCounts,
  })
  .meta({ id: 'StatsBucket' });

export const EndpointStatsView = z
  .object({
    endpointId: z.string(),
    after: z.string().meta({ description: 'Start of the window (inclusive)' }),
    before: z.string().meta({ description: 'End of the window (exclusive)' }),
    bucketSeconds: z.number().int().meta({ description: '3600 (hour) or 86400 (day)' }),
    totals: DeliveryCounts,
    buckets: z.array(StatsBucket).meta({ description: 'Every bucket of the window, oldest first, empty ones as zeros' }),
    truncated: z.boolean().meta({
      description: `The window held more than ${MAX_COUNTED_DELIVERIES} deliveries: only the newest ${MAX_COUNTED_DELIVERIES} are counted`,
    }),
    countedFrom: z.string().optional().meta({ description: 'When truncated: creation time of the oldest delivery counted' }),
    latency: z
      .object({
        sampled: z
          .number()
          .int()
          .min(0)
          .meta({ description: `First attempts sampled: those of the newest ${LATENCY_SAMPLE_SIZE} deliveries of the window` }),
        p50Ms: z.number().optional(),
        p95Ms: z.number().optional(),
        maxMs: z.number().optional(),
      })
      .meta({
        id: 'LatencySample',
        description: 'Duration of first attempts, whatever their outcome; absent percentiles: nothing sampled',
      }),
  })
  .meta({ id: 'EndpointStats' });

export const getEndpointStats = defineRoute({
  name: 'get-endpoint-stats',
  method: 'GET',
  path: '/v1/endpoints/{id}/stats',
  // id and status from gsi2; BatchGet of the newest 100 deliveries' first attempts
  uses: { ledger: 'read', queries: ['gsi2'] },
  tag: 'Deliveries',
  summary: "An endpoint's deliveries per status per hour or day, and its latency, over a window of up to 7 days",
  description:
    `Counted from the endpoint's history index by creation time (a delivery is dated by its message), at most ${MAX_COUNTED_DELIVERIES} a call, newest first; ` +
    `latency is the nearest-rank p50/p95/max of the first attempts of the newest ${LATENCY_SAMPLE_SIZE} deliveries.`,
  access: ['admin'],
  params: IdParams,
  query: z.strictObject({
    after: z.iso
      .datetime({ offset: true })
      .optional()
      .meta({ description: 'Start of the window (inclusive); default 24 h before `before`', example: '2026-11-24T00:00:00Z' }),
    before: z.iso
      .datetime({ offset: true })
      .optional()
      .meta({ description: 'End of the window (exclusive); default now. At most 7 days after `after`', example: '2026-11-25T00:00:00Z' }),
    bucket: z
      .enum(['hour', 'day'] as const satisfies readonly StatsBucketName[])
      .default('hour')
      .meta({ description: 'Bucket size; buckets start on the UTC hour or midnight' }),
  }),
  responses: {
    200: { description: 'Counts per bucket and the latency sample', schema: EndpointStatsView },
    ...errorResponses,
    ...notFound,
  },
});

export const getDelivery = defineRoute({
  name: 'get-delivery',
  method: 'GET',
  path: '/v1/deliveries/{id}',
  // one consistent Query: delivery, later attempts, events
  uses: { ledger: 'read', queries: ['table'] },
  tag: 'Deliveries',
  summary: 'One delivery with every attempt',
  access: ['admin'],
  params: IdParams,
  responses: { 200: { description: 'The delivery and its attempts', schema: DeliveryDetail }, ...errorResponses, ...notFound },
});

export function deliveryView(delivery: Delivery) {
  const { tenantId: _tenant, ...view } = delivery;
  return view;
}

export function attemptView(attempt: Attempt) {
  const { deliveryId: _delivery, ...view } = attempt;
  return view;
}

export { MAX_PAYLOAD_BYTES };
