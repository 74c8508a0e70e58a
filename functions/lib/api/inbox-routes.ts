import { z } from 'zod';
import type { InboxItem } from '../core/inbox.ts';
import { DeliveryView } from './message-routes.ts';
import { RawJson } from './raw-json.ts';
import { defineRoute, errorResponses, IdParams, notFound, PageQuery, pageOf } from './route-spec.ts';

export const InboxItemView = z
  .object({
    deliveryId: z.string(),
    messageId: z.string(),
    type: z.string(),
    createdAt: z.string(),
    data: z.record(z.string(), z.unknown()),
    status: z.string().meta({ description: '`acknowledged` once acked' }),
  })
  .meta({ id: 'InboxItem' });

export const getInboxItem = defineRoute({
  name: 'get-inbox-item',
  tag: 'Inbox (thin mode)',
  summary: 'Fetch the event a thin notification pointed at (`X-Message-Id`)',
  description: 'Every fetch is recorded (key id and time) in the delivery history.',
  access: ['receiver'],
  params: IdParams,
  responses: { 200: { description: 'The event', schema: InboxItemView }, ...errorResponses, ...notFound },
});

export const ackInboxItem = defineRoute({
  name: 'ack-inbox-item',
  tag: 'Inbox (thin mode)',
  summary: 'Acknowledge: no more notifications for this delivery (idempotent)',
  access: ['receiver'],
  params: IdParams,
  responses: {
    200: {
      description: 'Acknowledged (again, or for the first time: see `alreadyAcknowledged`)',
      schema: z.object({ deliveryId: z.string(), status: z.literal('acknowledged'), alreadyAcknowledged: z.boolean() }),
    },
    ...errorResponses,
    ...notFound,
  },
});

export const listInbox = defineRoute({
  name: 'list-inbox',
  tag: 'Inbox (thin mode)',
  summary: 'What is still waiting for a thin endpoint: pull without being called',
  access: ['receiver'],
  query: PageQuery.extend({
    endpointId: z.string().min(1).max(64),
    status: z.enum(['unacknowledged', 'acknowledged']).default('unacknowledged'),
  }),
  responses: {
    200: { description: 'Deliveries, newest first', schema: pageOf(DeliveryView, 'InboxPage') },
    ...errorResponses,
    ...notFound,
  },
});

export function inboxItemView({ delivery, message }: InboxItem) {
  return {
    deliveryId: delivery.id,
    messageId: message.id,
    type: message.type,
    createdAt: message.createdAt,
    data: new RawJson(message.payloadJson),
    status: delivery.status,
  };
}
