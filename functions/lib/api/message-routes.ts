import { z } from 'zod';
import { MAX_PAYLOAD_BYTES } from '../core/messages.ts';
import { type Attempt, type Delivery, type DeliveryEvent, deliveryStatuses, type Message } from '../core/model.ts';
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
} from './route-spec.ts';

// Messages (§4)

export const MessageAccepted = z.object({ id: z.string(), type: z.string(), createdAt: z.string() }).meta({ id: 'MessageAccepted' });
export const MessageView = MessageAccepted.extend({ payload: z.record(z.string(), z.unknown()) }).meta({ id: 'Message' });

export const createMessage = defineRoute({
  name: 'create-message',
  tag: 'Messages',
  summary: 'Post an event: validated, stored, then fanned out to subscribed endpoints',
  access: ['ingest'],
  body: z.strictObject({
    type: z.string().min(1).max(200),
    payload: jsonObject('Any JSON object, at most 256 KiB and 64 levels deep; receivers get exactly this text'),
  }),
  headers: IdempotencyKeyHeader,
  // The envelope may add a little to the 256 KiB payload; the payload itself is measured by the core.
  maxBodyBytes: MAX_PAYLOAD_BYTES + 16 * 1024,
  responses: {
    202: { description: 'Accepted (or the first message for this Idempotency-Key)', schema: MessageAccepted },
    ...errorResponses,
    413: { description: 'Payload over 256 KiB', schema: ErrorBody },
    422: { description: 'Unknown event type, or the payload fails its schema', schema: ErrorBody },
    429: {
      description: "Over the tenant's ingest budget; `Retry-After` says when to come back",
      schema: ErrorBody,
      headers: { 'retry-after': 'Seconds to wait before retrying' },
    },
  },
});

export const listMessages = defineRoute({
  name: 'list-messages',
  tag: 'Messages',
  summary: 'List messages, newest first',
  access: ['admin', 'ingest'],
  query: HistoryPageQuery.extend({ type: z.string().min(1).max(200).optional() }),
  responses: { 200: { description: 'Messages', schema: pageOf(MessageView, 'MessagePage') }, ...errorResponses },
});

export const getMessage = defineRoute({
  name: 'get-message',
  tag: 'Messages',
  summary: 'Get a message with its payload',
  access: ['admin', 'ingest'],
  params: IdParams,
  responses: { 200: { description: 'The message', schema: MessageView }, ...errorResponses, ...notFound },
});

export const messageAccepted = (message: Message) => ({ id: message.id, type: message.type, createdAt: message.createdAt });
export const messageView = (message: Message) => ({
  ...messageAccepted(message),
  payload: new RawJson(message.payloadJson),
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
  tag: 'Deliveries',
  summary: 'The deliveries of a message, with their status',
  access: ['admin', 'ingest'],
  params: IdParams,
  query: PageQuery,
  responses: { 200: { description: 'Deliveries', schema: pageOf(DeliveryView, 'DeliveryPage') }, ...errorResponses, ...notFound },
});

export const listEndpointDeliveries = defineRoute({
  name: 'list-endpoint-deliveries',
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

export const getDelivery = defineRoute({
  name: 'get-delivery',
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
