import * as z from 'zod';
import { type InboxItem, inboxStatuses, inboxStatusOf } from '../core/inbox.ts';
import type { Delivery } from '../core/model.ts';
import { RawJson } from './raw-json.ts';
import { defineRoute, errorResponses, HistoryPageQuery, IdParams, notFound, pageOf } from './route-spec.ts';

/**
 * The receiver's vocabulary, the same in the list and in a fetched item: the delivery (`deliveryId`,
 * the `X-Message-Id` of the notification), its message and event `type`, and an inbox `status`.
 */
export const InboxEntryView = z
  .object({
    deliveryId: z.string().meta({ description: 'The `X-Message-Id` of the notification' }),
    messageId: z.string(),
    type: z.string().meta({ description: 'The event type' }),
    createdAt: z.string().meta({ description: 'When the message was created' }),
    status: z.enum(inboxStatuses).meta({
      description:
        '`unacknowledged` while notifications go on, `acknowledged` once acked, `expired` when they ran out unacknowledged (it can still be fetched and acked)',
    }),
  })
  .meta({ id: 'InboxEntry' });

export const InboxItemView = InboxEntryView.extend({
  data: z.record(z.string(), z.unknown()).meta({ description: 'The payload' }),
  request: z
    .object({ headers: z.record(z.string(), z.string()), body: z.string() })
    .optional()
    .meta({
      description:
        'Poll endpoints only: the request Sluice would have POSTed, signed at this fetch (Standard Webhooks), to hand on to a receiver that verifies it',
    }),
}).meta({ id: 'InboxItem' });

export const getInboxItem = defineRoute({
  name: 'get-inbox-item',
  method: 'GET',
  path: '/v1/inbox/{id}',
  // A fetch records a `fetched` event (Put).
  uses: { ledger: 'write' },
  tag: 'Inbox (thin and poll)',
  summary: 'Fetch a waiting event: the one a thin notification pointed at (`X-Message-Id`), or a poll endpoint’s',
  description: 'Every fetch is recorded (key id and time) in the delivery history.',
  access: ['receiver'],
  // Portal sessions: the inbox is the receiver's machine API (a fetch is recorded).
  portal: 'never',
  params: IdParams,
  responses: { 200: { description: 'The event', schema: InboxItemView }, ...errorResponses, ...notFound },
});

export const ackInboxItem = defineRoute({
  name: 'ack-inbox-item',
  method: 'POST',
  path: '/v1/inbox/{id}/ack',
  // An ack is a transaction of an Update and a Put.
  uses: { ledger: 'write' },
  tag: 'Inbox (thin and poll)',
  summary: 'Acknowledge: the delivery is done, no more notifications or re-listing (idempotent)',
  access: ['receiver'],
  portal: 'never',
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
  method: 'GET',
  path: '/v1/inbox',
  // open (gsi3: pending + failed) or acknowledged (gsi2 by status)
  uses: { ledger: 'read', queries: ['gsi2', 'gsi3'] },
  tag: 'Inbox (thin and poll)',
  summary: 'What is still waiting for a thin or poll endpoint: pull without being called',
  access: ['receiver'],
  portal: 'never',
  query: HistoryPageQuery.extend({
    endpointId: z.string().min(1).max(64),
    status: z.enum(inboxStatuses).default('unacknowledged'),
  }),
  responses: {
    200: { description: 'Inbox entries, newest first (fetch one for its data)', schema: pageOf(InboxEntryView, 'InboxPage') },
    ...errorResponses,
    ...notFound,
  },
});

export function inboxEntryView(delivery: Delivery) {
  return {
    deliveryId: delivery.id,
    messageId: delivery.messageId,
    type: delivery.eventType,
    createdAt: delivery.createdAt,
    status: inboxStatusOf(delivery),
  };
}

export function inboxItemView({ delivery, message, request }: InboxItem) {
  return {
    ...inboxEntryView(delivery),
    type: message.type,
    createdAt: message.createdAt,
    data: new RawJson(message.payloadJson),
    ...(request && { request }),
  };
}
