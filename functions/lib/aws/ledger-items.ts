/**
 * The ledger's codec: how each record of the core becomes a table item and back. The keys come
 * from `ledger-keys.ts`; what an item carries besides them (its `entity`, index keys, TTL, sealed
 * and compressed values) is decided here, once per item type, and the stores only read and write.
 * docs/data-model.md describes the same items for a reader of the table.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, AttributeValue as StreamAttributeValue } from 'aws-lambda';
import type { FilterDocument } from '../core/filters.ts';
import { publicMessage } from '../core/messages.ts';
import type {
  Action,
  ApiKey,
  Attempt,
  Delivery,
  DeliveryEvent,
  DeliveryStatus,
  Endpoint,
  EventType,
  KeyGrant,
  Message,
  Tenant,
  TriggerRecord,
} from '../core/model.ts';
import type { IdempotencyClaim, KeyReuse, StoredMessage } from '../core/ports.ts';
import { dispatchTimeOf, isScheduled, waitsForSweeper } from '../core/schedule.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { keys, stripKeys } from './ledger-keys.ts';
import { expiresAtFor, type LedgerTable, type SealedItems } from './ledger-table.ts';

type Item = Record<string, unknown>;

// Tenants and keys.

export function tenantItem(tenant: Tenant): Item {
  return { ...keys.tenant(tenant.id), gsi1pk: keys.tenantsIndex(), entity: 'tenant', ...tenant };
}

export function tenantOf(item: Item): Tenant {
  return stripKeys<Tenant>(item);
}

/** An API key record keeps the key sealed for reveal (its grant holds only the hash). */
export const sealedApiKeyValues: SealedItems<{ sealedKey: string }> = {
  entity: 'apiKey',
  itemsOfTenant: keys.apiKeysOfTenant,
  attributes: ['sealedKey'],
  map: (item, transform) => ({ sealedKey: transform(item.sealedKey) }),
};

export function apiKeyItem(key: ApiKey, keyHash: string, plaintextKey: string, box: SecretBox): Item {
  return {
    ...keys.apiKey(key.tenantId, key.id),
    entity: 'apiKey',
    ...key,
    keyHash,
    ...sealedApiKeyValues.map({ sealedKey: plaintextKey }, (value) => box.seal(value)),
  };
}

/** The API key record as stored: the key sealed for reveal, and the hash naming its grant. */
export type StoredApiKey = ApiKey & { sealedKey: string; keyHash: string };

export function storedApiKeyOf(item: Item): StoredApiKey {
  return stripKeys<StoredApiKey>(item);
}

/** The record as the core sees it: neither the sealed key nor its hash. */
export function apiKeyOf(stored: StoredApiKey): ApiKey {
  const { sealedKey: _sealed, keyHash: _hash, ...apiKey } = stored;
  return apiKey;
}

export function revealedKeyOf(stored: StoredApiKey, box: SecretBox): string | undefined {
  return sealedApiKeyValues.map(stored, (value) => box.open(value)).sealedKey;
}

export function keyGrantItem(grant: KeyGrant): Item {
  return { ...keys.keyGrant(grant.keyHash), entity: 'keyGrant', ...grant };
}

export function keyGrantOf(item: Item): KeyGrant {
  return stripKeys<KeyGrant>(item);
}

// The catalog: event types and endpoints.

type StoredEventType = Omit<EventType, 'schema'> & { schemaJson?: string };

/** A schema is stored as JSON text: its keys and numbers survive exactly, whatever they are. */
export function eventTypeItem(eventType: EventType): Item {
  const { schema, ...rest } = eventType;
  const stored: StoredEventType = { ...rest, ...(schema && { schemaJson: JSON.stringify(schema) }) };
  return { ...keys.eventType(eventType.tenantId, eventType.name), entity: 'eventType', ...stored };
}

export function eventTypeOf(item: Item): EventType {
  const { schemaJson, ...rest } = stripKeys<StoredEventType>(item);
  return { ...rest, ...(schemaJson && { schema: JSON.parse(schemaJson) as Record<string, unknown> }) };
}

/** An endpoint's signing secrets and its Basic-auth password: sealed at rest. */
export const sealedEndpointValues: SealedItems<Endpoint> = {
  entity: 'endpoint',
  itemsOfTenant: keys.endpointsOfTenant,
  attributes: ['secrets', 'auth'],
  map: (endpoint, transform) => ({
    secrets: endpoint.secrets.map((secret) => ({ ...secret, value: transform(secret.value) })),
    ...(endpoint.auth && { auth: { ...endpoint.auth, password: transform(endpoint.auth.password) } }),
  }),
};

/**
 * An endpoint item. Its filter is kept as JSON text: a DynamoDB map would refuse numbers beyond
 * its range (1e126) and turn JSON numbers into decimals, while the text keeps the document exactly.
 */
export function endpointItem(endpoint: Endpoint, box: SecretBox): Item {
  return {
    ...keys.endpoint(endpoint.tenantId, endpoint.id),
    entity: 'endpoint',
    ...endpoint,
    ...(endpoint.filter !== undefined && { filter: JSON.stringify(endpoint.filter) }),
    ...sealedEndpointValues.map(endpoint, (value) => box.seal(value)),
  };
}

export function endpointOf(item: Item, box: SecretBox): Endpoint {
  // `failingNoticeAt` is the store's own bookkeeping (the hourly limit of `message.attempt.failing`), not the endpoint's.
  const {
    filter,
    failingNoticeAt: _notice,
    ...stored
  } = stripKeys<Omit<Endpoint, 'filter'> & { filter?: string; failingNoticeAt?: string }>(item);
  return {
    ...stored,
    ...(typeof filter === 'string' && { filter: JSON.parse(filter) as FilterDocument }),
    ...sealedEndpointValues.map(stored as Endpoint, (value) => box.open(value)),
  };
}

// Messages.

/** Payloads shorter than this are stored as text: compressing them saves no write unit. */
const COMPRESS_FROM_BYTES = 256;

/**
 * The message item, as small as it can be: a write unit buys 1 KB, so the payload is stored
 * compressed (raw DEFLATE) when that is shorter, and nothing is stored twice.
 */
export interface MessageItem {
  readonly pk: string;
  readonly sk: string;
  readonly id: string;
  readonly tenantId: string;
  readonly type: string;
  readonly createdAt: string;
  /** The payload as posted, either as text or DEFLATE-compressed. */
  readonly payload?: string;
  readonly payloadDeflated?: Uint8Array;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly deliverAt?: string;
  readonly cancelledAt?: string;
  /** A scheduled message whose first attempts have begun: it can no longer be cancelled. */
  readonly releasedAt?: string;
  readonly keyHash?: string;
  /** On a key's slot holder: the later message that holds the key now. */
  readonly keyReuse?: KeyReuse;
  readonly endpointIds?: readonly string[];
  /** Attempted where it was published: the stream's dispatch filter leaves it alone. */
  readonly inline?: boolean;
  readonly gsi1pk: string;
  readonly gsi5pk?: string;
  readonly gsi5sk?: string;
  readonly expiresAt: number;
}

export function messageItem(table: LedgerTable, message: Message, claim: IdempotencyClaim | undefined): MessageItem {
  const text = message.payloadJson;
  const deflated = text.length >= COMPRESS_FROM_BYTES ? deflateRawSync(text) : undefined;
  const dispatched = message.endpointIds !== undefined && message.endpointIds.length > 0;
  return {
    ...keys.message(message.id),
    id: message.id,
    tenantId: message.tenantId,
    type: message.type,
    createdAt: message.createdAt,
    ...(deflated && deflated.length < Buffer.byteLength(text) ? { payloadDeflated: deflated } : { payload: text }),
    ...(message.metadata && { metadata: message.metadata }),
    ...(claim && { keyHash: claim.keyHash }),
    ...(message.deliverAt !== undefined && { deliverAt: message.deliverAt }),
    ...(dispatched && {
      endpointIds: message.endpointIds,
      // One far ahead waits among the scheduled ones, out of dispatch's stream filter, until the sweeper queues it.
      gsi5pk: waitsForSweeper(message) ? keys.scheduledShard(message.id) : keys.dispatchShard(message.id),
      gsi5sk: keys.dispatchSortKey(message.id, isScheduled(message) ? dispatchTimeOf(message) : undefined),
    }),
    ...(message.attemptedInline && { inline: true }),
    gsi1pk: keys.messagesOfTenant(message.tenantId),
    expiresAt: expiresAtFor(table, message.createdAt),
  };
}

/** A message item with its idempotency bookkeeping (the message store's own view). */
export function storedMessageOf(item: Item): StoredMessage {
  const stored = item as unknown as MessageItem;
  const payloadJson = stored.payloadDeflated ? inflateRawSync(stored.payloadDeflated).toString('utf8') : (stored.payload ?? '{}');
  return {
    id: stored.id,
    tenantId: stored.tenantId,
    type: stored.type,
    payloadJson,
    ...(stored.metadata && { metadata: stored.metadata }),
    createdAt: stored.createdAt,
    ...(stored.deliverAt && { deliverAt: stored.deliverAt }),
    ...(stored.cancelledAt && { cancelledAt: stored.cancelledAt }),
    ...(stored.endpointIds && { endpointIds: stored.endpointIds }),
    ...(stored.inline && { attemptedInline: true }),
    ...(stored.keyHash && { idempotencyKeyHash: stored.keyHash }),
    ...(stored.keyReuse && { keyReuse: stored.keyReuse }),
  };
}

/** A message item as the core sees it. */
export function messageOf(item: Item): Message {
  return publicMessage(storedMessageOf(item));
}

/**
 * New message items from the ledger's stream, as Lambda delivers them (binary values arrive
 * base64-encoded in the event's JSON). Anything else in the batch is ignored.
 */
export function newMessagesOf(records: readonly DynamoDBRecord[]): Message[] {
  return records.flatMap((record) => {
    const image = record.dynamodb?.NewImage;
    if (record.eventName !== 'INSERT' || !image || image.sk?.S !== 'MSG') return [];
    return [messageOf(unmarshall(fromStreamImage(image)))];
  });
}

function fromStreamValue(value: StreamAttributeValue): AttributeValue {
  if (value.B !== undefined) return { B: Buffer.from(value.B, 'base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b, 'base64')) };
  if (value.L !== undefined) return { L: value.L.map(fromStreamValue) };
  if (value.M !== undefined) return { M: fromStreamImage(value.M) };
  return value as AttributeValue;
}

function fromStreamImage(image: Record<string, StreamAttributeValue>): Record<string, AttributeValue> {
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, fromStreamValue(value)]));
}

// Deliveries, their attempts and events.

/** Statuses someone lists by endpoint or tenant: only these put a delivery into the sparse status indexes. */
export const LISTED_STATUSES: ReadonlySet<DeliveryStatus> = new Set(['pending', 'failed', 'dead']);

/** How an item of the message partition says it is a delivery (and not one of its attempts or events). */
export const DELIVERY_ENTITY = 'delivery';

/** The first attempt lives on the delivery item, without the fields the delivery already says. */
export type EmbeddedAttempt = Omit<Attempt, 'deliveryId' | 'attempt'>;

export function embedded(attempt: Attempt): EmbeddedAttempt {
  const { deliveryId: _delivery, attempt: _number, ...rest } = attempt;
  return rest;
}

/**
 * The index keys a delivery in this state carries (an update removes the others): every delivery
 * is in `gsi2`; `gsi3`/`gsi4` while pending, failing or dead; `gsi5` while a next attempt is due.
 */
export function deliveryIndexKeys(delivery: Delivery): Record<string, string> {
  const listed = LISTED_STATUSES.has(delivery.status);
  return {
    gsi2pk: keys.deliveriesOfEndpoint(delivery.endpointId),
    ...(listed && { gsi3pk: keys.deliveriesOfEndpointByStatus(delivery.endpointId, delivery.status) }),
    ...(delivery.status === 'dead' && { gsi4pk: keys.deadDeliveriesOfTenant(delivery.tenantId) }),
    ...(delivery.nextAttemptAt && { gsi5pk: keys.dueShard(delivery.id), gsi5sk: keys.dueSortKey(delivery.nextAttemptAt, delivery.id) }),
  };
}

/** The index keys an update may have to remove. */
export const deliveryIndexAttributes = ['gsi3pk', 'gsi4pk', 'gsi5pk', 'gsi5sk'] as const;

export function deliveryItem(table: LedgerTable, delivery: Delivery, first?: Attempt): Item {
  return {
    ...keys.delivery(delivery.id),
    entity: DELIVERY_ENTITY,
    ...delivery,
    ...(first && { firstAttempt: embedded(first) }),
    ...deliveryIndexKeys(delivery),
    expiresAt: expiresAtFor(table, delivery.createdAt),
  };
}

export function deliveryOf(item: Item): Delivery {
  // The replay claim is the ledger's bookkeeping (`claimReplay`), not the delivery's state.
  const {
    firstAttempt: _first,
    replayClaim: _claim,
    replayTask: _task,
    ...stored
  } = stripKeys<Delivery & { firstAttempt?: unknown; replayClaim?: unknown; replayTask?: unknown }>(item);
  return stored;
}

/** A later attempt: an item of its own, expiring with its delivery. */
export function attemptItem(table: LedgerTable, attempt: Attempt, delivery: Delivery): Item {
  return {
    ...keys.attempt(attempt.deliveryId, attempt.attempt),
    entity: 'attempt',
    expiresAt: expiresAtFor(table, delivery.createdAt),
    ...attempt,
  };
}

export function attemptOf(item: Item): Attempt {
  return stripKeys<Attempt>(item);
}

export function deliveryEventItem(table: LedgerTable, event: DeliveryEvent): Item {
  return { ...keys.deliveryEvent(event.deliveryId, event.id), entity: 'deliveryEvent', expiresAt: expiresAtFor(table, event.at), ...event };
}

export function deliveryEventOf(item: Item): DeliveryEvent {
  return stripKeys<DeliveryEvent>(item);
}

// Inbound hooks: actions and their triggers.

/**
 * Params are free JSON from the tenant, kept as their JSON text: a DynamoDB map cannot hold a
 * number beyond 1E125 or more than 38 digits, and the devices should get what was written.
 */
export function actionItem(action: Action): Item {
  const { params, ...rest } = action;
  return {
    ...keys.action(action.tenantId, action.id),
    entity: 'action',
    ...rest,
    ...(params !== undefined && { paramsJson: JSON.stringify(params) }),
  };
}

export function actionOf(item: Item): Action {
  const { paramsJson, ...rest } = stripKeys<Omit<Action, 'params'> & { paramsJson?: string }>(item);
  // Items written before params were kept as text hold them as a map (`params`), which passes through.
  return { ...rest, ...(typeof paramsJson === 'string' && { params: JSON.parse(paramsJson) as Record<string, unknown> }) } as Action;
}

/** The second item of an action, keyed by its `event_id`: a trigger finds the action with one read. */
export function actionByEventItem(action: Action): Item {
  return { ...keys.actionByEvent(action.tenantId, action.eventId), entity: 'actionByEvent', actionId: action.id };
}

export function triggerItem(table: LedgerTable, trigger: TriggerRecord): Item {
  return {
    pk: keys.triggersOfAction(trigger.actionId),
    sk: trigger.id,
    entity: 'trigger',
    expiresAt: expiresAtFor(table, trigger.at),
    ...trigger,
  };
}

export function triggerOf(item: Item): TriggerRecord {
  return stripKeys<TriggerRecord>(item);
}
