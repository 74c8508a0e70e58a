/**
 * Key layout of the single-table ledger (see docs/data-model.md). Every key string is built
 * here and nowhere else.
 */
import { createHash } from 'node:crypto';
import { deliveryTag, idAt, messageIdOfDelivery, messageSlot } from '../core/ids.ts';
import type { RateSubject } from '../core/ports.ts';

/** The sweeper's indexes are spread over a few partitions so none of them is hot. */
const DUE_SHARDS = 4;

function shardOf(id: string): number {
  return (createHash('sha1').update(id).digest()[0] ?? 0) % DUE_SHARDS;
}

/** A message, its deliveries and their attempts and events share one partition. */
function messagePartition(messageId: string): string {
  return `MSG#${messageSlot(messageId)}`;
}

function deliveryPrefix(deliveryId: string): string {
  return `DLV#${deliveryTag(deliveryId)}`;
}

/** The attribute DynamoDB's TTL reads (epoch seconds): history and idempotency records expire by it. */
export const ttlAttribute = 'expiresAt';

export const keys = {
  tenant: (id: string) => ({ pk: `TEN#${id}`, sk: 'TEN' }),
  tenantsIndex: () => 'TENANTS',
  /** The partition of the API's idempotency records (Powertools keeps them under one static key). */
  idempotencyRecords: () => 'IDEMPOTENCY',
  apiKey: (tenantId: string, keyId: string) => ({ pk: `TEN#${tenantId}`, sk: `KEY#${keyId}` }),
  apiKeysOfTenant: (tenantId: string) => ({ pk: `TEN#${tenantId}`, skPrefix: 'KEY#' }),
  keyGrant: (keyHash: string) => ({ pk: `KEYHASH#${keyHash}`, sk: 'KEYHASH' }),
  eventType: (tenantId: string, name: string) => ({ pk: `TEN#${tenantId}`, sk: `ET#${name}` }),
  eventTypesOfTenant: (tenantId: string) => ({ pk: `TEN#${tenantId}`, skPrefix: 'ET#' }),
  endpoint: (tenantId: string, id: string) => ({ pk: `TEN#${tenantId}`, sk: `EP#${id}` }),
  endpointsOfTenant: (tenantId: string) => ({ pk: `TEN#${tenantId}`, skPrefix: 'EP#' }),
  action: (tenantId: string, id: string) => ({ pk: `TEN#${tenantId}`, sk: `ACT#${id}` }),
  actionsOfTenant: (tenantId: string) => ({ pk: `TEN#${tenantId}`, skPrefix: 'ACT#' }),
  actionByEvent: (tenantId: string, eventId: string) => ({ pk: `TEN#${tenantId}`, sk: `ACTEVT#${eventId}` }),
  task: (tenantId: string, id: string) => ({ pk: `TEN#${tenantId}`, sk: `TASK#${id}` }),
  /** Names the endpoint's newest replay task: one replay runs per endpoint at a time. */
  replayLock: (tenantId: string, endpointId: string) => ({ pk: `TEN#${tenantId}`, sk: `REPLAY#${endpointId}` }),
  triggersOfAction: (actionId: string) => `ACT#${actionId}#TRIGGERS`,
  message: (id: string) => ({ pk: messagePartition(id), sk: 'MSG' }),
  messagesOfTenant: (tenantId: string) => `TEN#${tenantId}#MSG`,
  delivery: (id: string) => ({ pk: messagePartition(messageIdOfDelivery(id)), sk: deliveryPrefix(id) }),
  /** Attempts after the first (which lives on the delivery item). */
  attempt: (deliveryId: string, attempt: number) => ({
    pk: messagePartition(messageIdOfDelivery(deliveryId)),
    sk: `${deliveryPrefix(deliveryId)}#ATT#${String(attempt).padStart(5, '0')}`,
  }),
  deliveryEvent: (deliveryId: string, eventId: string) => ({
    pk: messagePartition(messageIdOfDelivery(deliveryId)),
    sk: `${deliveryPrefix(deliveryId)}#EVT#${eventId}`,
  }),
  /** The delivery item and its attempt and event items: one Query. */
  deliveryWithHistory: (deliveryId: string) => ({
    pk: messagePartition(messageIdOfDelivery(deliveryId)),
    skPrefix: deliveryPrefix(deliveryId),
  }),
  deliveriesOfEndpoint: (endpointId: string) => `EP#${endpointId}`,
  deliveriesOfEndpointByStatus: (endpointId: string, status: string) => `EP#${endpointId}#${status}`,
  deadDeliveriesOfTenant: (tenantId: string) => `TEN#${tenantId}#dead`,
  /** Deliveries with a next attempt, by due time: the sweeper's overdue list. */
  dueShard: (id: string) => `DUE#${shardOf(id)}`,
  dueShards: () => Array.from({ length: DUE_SHARDS }, (_, shard) => `DUE#${shard}`),
  /** Every dispatched message, by when it fans out: the sweeper's check that first attempts ran. */
  dispatchShard: (messageId: string) => `NEW#${shardOf(messageId)}`,
  dispatchShards: () => Array.from({ length: DUE_SHARDS }, (_, shard) => `NEW#${shard}`),
  /** Scheduled messages too far ahead for the queue's delay, by when they fan out: the sweeper queues them. */
  scheduledShard: (messageId: string) => `SCHED#${shardOf(messageId)}`,
  scheduledShards: () => Array.from({ length: DUE_SHARDS }, (_, shard) => `SCHED#${shard}`),
  /**
   * A dispatched message's place in `gsi5`: its id, which sorts by the time it was accepted; for a
   * scheduled one, the id it would have if accepted at its `deliverAt` (the same random half, so
   * no two messages share a place), then `#` and its own id.
   */
  dispatchSortKey: (messageId: string, deliverAt?: Date) =>
    deliverAt === undefined ? messageId : `${idAt('message', deliverAt, messageSlot(messageId))}#${messageId}`,
  messageIdOfDispatchSortKey: (sortKey: string) => sortKey.slice(sortKey.indexOf('#') + 1),
  sweeperBookmark: () => ({ pk: 'SWEEPER', sk: 'DISPATCHED' }),
  /** One second's counter of a rate subject (an endpoint, or an inbound key: `HOOK#` keeps the two apart). */
  rateCounter: (subject: RateSubject, second: number) => ({
    pk: 'endpointId' in subject ? `RATE#${subject.endpointId}` : `RATE#HOOK#${subject.hookKeyId}`,
    sk: String(second),
  }),
  /** The due index's sort key: due time first (the sweeper reads them in time order), then the delivery. */
  dueSortKey: (nextAttemptAt: string, deliveryId: string) => `${nextAttemptAt}#${deliveryId}`,
  deliveryIdOfDueSortKey: (sortKey: string) => sortKey.slice(sortKey.lastIndexOf('#') + 1),
};

/**
 * The ledger-stream records dispatch wants: new message items that went to endpoints (they sit in
 * the sweeper's dispatch shards), unless their first attempts were made where they were published.
 * A Lambda event-filter pattern; the local stack applies the same pattern.
 */
export const newDispatchedMessagePattern = {
  eventName: ['INSERT'],
  dynamodb: {
    NewImage: {
      sk: { S: ['MSG'] },
      gsi5pk: { S: [{ prefix: 'NEW#' }] },
      inline: { BOOL: [{ exists: false }] },
    },
  },
} as const;

/** Attributes that exist only to place an item in the table; stripped before the core sees it. */
export const keyAttributes = ['pk', 'sk', 'gsi1pk', 'gsi2pk', 'gsi3pk', 'gsi4pk', 'gsi5pk', 'gsi5sk', 'expiresAt', 'entity'] as const;

export function stripKeys<T>(item: Record<string, unknown>): T {
  const copy: Record<string, unknown> = { ...item };
  for (const attribute of keyAttributes) delete copy[attribute];
  return copy as T;
}
