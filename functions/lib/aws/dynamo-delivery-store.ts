import { PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { CreatedWindow } from '../core/created-window.ts';
import { isDeliveryId } from '../core/ids.ts';
import type { DeliveryJob } from '../core/jobs.ts';
import type { Attempt, Delivery, DeliveryEvent, DeliveryStatus, Endpoint, Page, PageRequest } from '../core/model.ts';
import type {
  AttemptRecord,
  DeliveryContextLoader,
  DeliveryListFilter,
  DeliveryStatusEntry,
  DeliveryStore,
  LedgerSnapshot,
  ReplayRange,
} from '../core/ports.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import type { BatchWriter } from './batch-writer.ts';
import {
  attemptItem,
  attemptOf,
  DELIVERY_ENTITY,
  deliveryEventItem,
  deliveryEventOf,
  deliveryIndexAttributes,
  deliveryIndexKeys,
  deliveryItem,
  deliveryOf,
  type EmbeddedAttempt,
  embedded,
  endpointOf,
  LISTED_STATUSES,
  messageOf,
} from './ledger-items.ts';
import { keys } from './ledger-keys.ts';
import {
  batchGet,
  batchGetInOrder,
  decodeCursor,
  encodeCursor,
  type ItemKey,
  idCondition,
  idRangeOf,
  isConditionFailure,
  isTransactionConflict,
  type LedgerTable,
  partition,
  partitionPrefix,
  queryAll,
  queryPageOfItems,
} from './ledger-table.ts';

/**
 * The delivery ledger. A delivery is one item in its message's partition, written once after its
 * first attempt (which it carries); later attempts are items of their own. An item is in the
 * sparse indexes only while someone may look for it there: `gsi3`/`gsi4` while pending, failing
 * or dead, `gsi5` while a next attempt is scheduled. Every delivery is in `gsi2` (the endpoint's
 * history), with its status so the history filters without reading other items.
 */
export class DynamoDeliveryStore implements DeliveryStore, DeliveryContextLoader {
  constructor(
    private readonly table: LedgerTable,
    private readonly writer: BatchWriter,
    /** Opens the endpoints a batch of later attempts reads (their secrets are sealed). */
    private readonly box: SecretBox,
  ) {}

  settleFirstAttempt(delivery: Delivery, attempt: Attempt): Promise<void> {
    return this.writer.put(deliveryItem(this.table, delivery, attempt));
  }

  recordFirstAttempt(delivery: Delivery, attempt: Attempt): Promise<boolean> {
    return this.putNew(deliveryItem(this.table, delivery, attempt));
  }

  create(delivery: Delivery): Promise<boolean> {
    return this.putNew(deliveryItem(this.table, delivery));
  }

  private async putNew(item: Record<string, unknown>): Promise<boolean> {
    try {
      await this.table.client.send(
        new PutCommand({ TableName: this.table.name, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async get(id: string): Promise<Delivery | undefined> {
    return (await this.getMany([id])).get(id);
  }

  async getMany(ids: readonly string[]): Promise<ReadonlyMap<string, Delivery>> {
    const items = await batchGet(this.table, deliveryKeys(ids), true);
    return new Map(items.map((item) => [String(item.id), deliveryOf(item)]));
  }

  async existing(ids: readonly string[]): Promise<ReadonlySet<string>> {
    const items = await batchGet(this.table, deliveryKeys(ids), false, 'id');
    return new Set(items.map((item) => String(item.id)));
  }

  async getWithAttempts(
    id: string,
  ): Promise<{ delivery: Delivery; attempts: readonly Attempt[]; events: readonly DeliveryEvent[] } | undefined> {
    if (!isDeliveryId(id)) return undefined;
    // The delivery, its later attempts and its audit events share a key prefix: one query reads them all.
    const items = await queryAll(this.table, { ...partitionPrefix(keys.deliveryWithHistory(id)), ConsistentRead: true });
    const deliveryItem = items.find((item) => item.entity === DELIVERY_ENTITY && item.id === id);
    if (!deliveryItem) return undefined;
    const first = deliveryItem.firstAttempt as EmbeddedAttempt | undefined;
    const later = items.filter((item) => item.entity === 'attempt').map(attemptOf);
    const attempts = [...(first ? [{ deliveryId: id, attempt: 1, ...first }] : []), ...later].sort((a, b) => a.attempt - b.attempt);
    const events = items.filter((item) => item.entity === 'deliveryEvent').map(deliveryEventOf);
    return { delivery: deliveryOf(deliveryItem), attempts, events };
  }

  async recordEvent(event: DeliveryEvent): Promise<void> {
    await this.table.client.send(new PutCommand({ TableName: this.table.name, Item: deliveryEventItem(this.table, event) }));
  }

  async acknowledge(delivery: Delivery, event: DeliveryEvent): Promise<'acknowledged' | 'already'> {
    const { nextAttemptAt: _next, ...rest } = delivery;
    const acknowledged: Delivery = { ...rest, status: 'acknowledged', updatedAt: event.at };
    const update = this.stateUpdate(acknowledged);
    try {
      await this.table.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                ...update,
                // A late ack of a dead delivery counts too: the receiver did get the event.
                ConditionExpression: '#status IN (:pending, :failed, :dead)',
                ExpressionAttributeValues: {
                  ...update.ExpressionAttributeValues,
                  ':pending': 'pending',
                  ':failed': 'failed',
                  ':dead': 'dead',
                },
              },
            },
            {
              Put: {
                TableName: this.table.name,
                Item: deliveryEventItem(this.table, event),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
      return 'acknowledged';
    } catch (error) {
      if (isTransactionConflict(error) && error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed') return 'already';
      throw error;
    }
  }

  async listOpenByEndpoint(endpointId: string, window: CreatedWindow, page: PageRequest): Promise<Page<Delivery>> {
    // Two partitions (pending, failed) merged newest first. The cursor is the last id returned,
    // so each page ends just below it in both: keyset pagination across partitions. The bound is
    // inclusive in the key condition, so the cursor's own entry is read again and dropped.
    const raw = decodeCursor(page.cursor)?.before;
    if (raw !== undefined && typeof raw !== 'string') decodeCursor('!');
    const before = typeof raw === 'string' ? raw : undefined;
    const range = idRangeOf('delivery', window);
    const ids = idCondition({ ...range, ...(before && { to: before }) });
    const parts = await Promise.all(
      (['pending', 'failed'] as const).map(async (status) => {
        const result = await this.table.client.send(
          new QueryCommand({
            TableName: this.table.name,
            IndexName: 'gsi3',
            KeyConditionExpression: `gsi3pk = :pk${ids.condition}`,
            ExpressionAttributeValues: { ':pk': keys.deliveriesOfEndpointByStatus(endpointId, status), ...ids.values },
            ScanIndexForward: false,
            Limit: page.limit + 2,
          }),
        );
        const entries = ((result.Items ?? []) as { pk: string; sk: string; id: string }[]).filter((entry) => entry.id !== before);
        return { entries, more: result.LastEvaluatedKey !== undefined };
      }),
    );
    const merged = parts.flatMap((p) => p.entries).sort((a, b) => (a.id < b.id ? 1 : -1));
    const chosen = merged.slice(0, page.limit);
    const items = await this.read(chosen);
    const more = merged.length > page.limit || parts.some((p) => p.more);
    const last = chosen.at(-1);
    const nextCursor = more && last ? encodeCursor({ before: last.id }) : undefined;
    return { items, ...(nextCursor && { nextCursor }) };
  }

  listByEndpoint(endpointId: string, filter: DeliveryListFilter, page: PageRequest): Promise<Page<Delivery>> {
    const range = idRangeOf('delivery', filter);
    if (filter.status && LISTED_STATUSES.has(filter.status)) {
      return queryPageOfItems(
        this.table,
        partition(keys.deliveriesOfEndpointByStatus(endpointId, filter.status), 'gsi3', range),
        page,
        deliveryOf,
      );
    }
    // Succeeded and acknowledged deliveries are most of the history: filtered in the index by
    // its projected status, then read.
    const query = partition(keys.deliveriesOfEndpoint(endpointId), 'gsi2', range);
    return queryPageOfItems(
      this.table,
      {
        ...query,
        ...(filter.status && {
          FilterExpression: '#status = :status',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ...query.ExpressionAttributeValues, ':status': filter.status },
        }),
      },
      page,
      deliveryOf,
    );
  }

  async statusesByEndpoint(endpointId: string, window: CreatedWindow, limit: number): Promise<readonly DeliveryStatusEntry[]> {
    // The index entries alone (keys, id, status: ~140 bytes each). A GSI query is billed 0.5 read
    // unit per 4 KB of entries returned, about 30 entries, so 1 000 deliveries cost ~17 units
    // and 10 000 ~170 (as DynamoDB Local reports too), in pages of up to 1 MB; the items are never read.
    const entries = await queryAll(
      this.table,
      {
        ...partition(keys.deliveriesOfEndpoint(endpointId), 'gsi2', idRangeOf('delivery', window)),
        ProjectionExpression: 'id, #status',
        ExpressionAttributeNames: { '#status': 'status' },
        ScanIndexForward: false,
      },
      limit,
    );
    return entries.map((entry) => ({ id: String(entry.id), status: entry.status as DeliveryStatus }));
  }

  async firstAttemptDurations(ids: readonly string[]): Promise<ReadonlyMap<string, number>> {
    // The projection trims what crosses the wire, not the bill: a BatchGet is charged on the whole
    // item (0.5 unit per 4 KB, eventually consistent), so 100 deliveries cost 50 units, or up to
    // 100 when their first attempts kept 4 KiB response bodies.
    const items = await batchGet(this.table, deliveryKeys(ids), false, 'id, firstAttempt.durationMs');
    const durations = new Map<string, number>();
    for (const item of items) {
      const first = item.firstAttempt as Partial<EmbeddedAttempt> | undefined;
      if (typeof first?.durationMs === 'number') durations.set(String(item.id), first.durationMs);
    }
    return durations;
  }

  listDead(tenantId: string, window: CreatedWindow, page: PageRequest): Promise<Page<Delivery>> {
    return queryPageOfItems(
      this.table,
      partition(keys.deadDeliveriesOfTenant(tenantId), 'gsi4', idRangeOf('delivery', window)),
      page,
      deliveryOf,
    );
  }

  async listAllByEndpoint(endpointId: string, statuses: readonly DeliveryStatus[], sinceId?: string): Promise<readonly Delivery[]> {
    const unlisted = statuses.filter((status) => !LISTED_STATUSES.has(status));
    if (unlisted.length > 0) throw new Error(`deliveries in ${unlisted.join(', ')} are not listed by endpoint and status`);
    const entries = await Promise.all(
      statuses.map((status) =>
        queryAll(this.table, {
          IndexName: 'gsi3',
          KeyConditionExpression: sinceId ? 'gsi3pk = :pk AND id >= :since' : 'gsi3pk = :pk',
          ExpressionAttributeValues: {
            ':pk': keys.deliveriesOfEndpointByStatus(endpointId, status),
            ...(sinceId && { ':since': sinceId }),
          },
          ScanIndexForward: false,
        }),
      ),
    );
    const sorted = entries.flat().sort((a, b) => (String(a.id) < String(b.id) ? 1 : -1));
    return this.read(sorted.map((entry) => ({ pk: String(entry.pk), sk: String(entry.sk) })));
  }

  async replayPage(
    endpointId: string,
    statuses: readonly DeliveryStatus[] | 'all',
    range: ReplayRange,
    limit: number,
  ): Promise<readonly DeliveryStatusEntry[]> {
    // BETWEEN is inclusive: the smallest string after `after` is `after` + NUL.
    const ids = { from: range.after === undefined ? range.from : `${range.after}\u0000`, to: range.to };
    if (statuses === 'all') {
      const items = await queryAll(this.table, partition(keys.deliveriesOfEndpoint(endpointId), 'gsi2', ids), limit);
      return items.map((item) => ({ id: String(item.id), status: item.status as DeliveryStatus }));
    }
    const perStatus = await Promise.all(
      statuses.map(async (status) => {
        const items = await queryAll(this.table, partition(keys.deliveriesOfEndpointByStatus(endpointId, status), 'gsi3', ids), limit);
        return items.map((item) => ({ id: String(item.id), status }));
      }),
    );
    // Each status's first `limit` in id order: the merged first `limit` are among them.
    return perStatus
      .flat()
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, limit);
  }

  async claimReplay(delivery: Delivery, taskId: string): Promise<boolean> {
    try {
      await this.table.client.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: keys.delivery(delivery.id),
          UpdateExpression: 'SET replayClaim = :count, replayTask = :task',
          ConditionExpression:
            'attemptCount = :count AND #status = :status AND (attribute_not_exists(replayClaim) OR replayClaim <> :count)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':count': delivery.attemptCount, ':status': delivery.status, ':task': taskId },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async recordAttempt(record: AttemptRecord): Promise<boolean> {
    const { delivery, previous, attempt } = record;
    try {
      if (attempt.attempt === 1) {
        // The first attempt of a delivery that was recorded without one (moved to the retry lane).
        await this.table.client.send(new UpdateCommand(this.conditionalUpdate(delivery, previous, embedded(attempt))));
        return true;
      }
      await this.table.client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Update: this.conditionalUpdate(delivery, previous) },
            {
              Put: {
                TableName: this.table.name,
                Item: attemptItem(this.table, attempt, delivery),
                // One record per attempt number, whatever the queue redelivers.
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      if (isTransactionConflict(error) && error.CancellationReasons?.some((r) => r.Code === 'ConditionalCheckFailed')) return false;
      throw error;
    }
  }

  async update(delivery: Delivery, previous: Delivery): Promise<boolean> {
    try {
      await this.table.client.send(new UpdateCommand(this.conditionalUpdate(delivery, previous)));
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async load(jobs: readonly DeliveryJob[], messageIds: readonly string[]): Promise<LedgerSnapshot> {
    const wanted: ItemKey[] = [...messageIds.map((id) => keys.message(id))];
    for (const job of jobs) {
      if (isDeliveryId(job.deliveryId)) wanted.push(keys.delivery(job.deliveryId));
      wanted.push(keys.endpoint(job.tenantId, job.endpointId), keys.message(job.messageId));
    }
    const found = new Map<string, Record<string, unknown>>();
    for (const item of await batchGet(this.table, wanted, true)) found.set(`${item.pk}|${item.sk}`, item);
    const at = (key: ItemKey) => found.get(`${key.pk}|${key.sk}`);
    const endpoints = new Map<string, Endpoint>();
    return {
      delivery: (id) => {
        const item = isDeliveryId(id) ? at(keys.delivery(id)) : undefined;
        return item?.id === id ? deliveryOf(item) : undefined;
      },
      endpoint: (tenantId, id) => {
        const item = at(keys.endpoint(tenantId, id));
        if (!item) return undefined;
        const opened = endpoints.get(id) ?? endpointOf(item, this.box);
        endpoints.set(id, opened);
        return opened;
      },
      message: (id) => {
        const item = at(keys.message(id));
        return item?.id === id ? messageOf(item) : undefined;
      },
    };
  }

  /** Items by their index entries, in the entries' order. */
  private async read(entries: readonly ItemKey[]): Promise<Delivery[]> {
    return (await batchGetInOrder(this.table, entries, false)).map(deliveryOf);
  }

  /**
   * Replaces the delivery's state in place (its first attempt, if any, stays), conditionally on
   * the `status` and `attemptCount` the new state was computed from.
   */
  private conditionalUpdate(delivery: Delivery, previous: Delivery, firstAttempt?: EmbeddedAttempt) {
    const update = this.stateUpdate(delivery, firstAttempt);
    return {
      ...update,
      ConditionExpression: 'attemptCount = :previousCount AND #status = :previousStatus',
      ExpressionAttributeValues: {
        ...update.ExpressionAttributeValues,
        ':previousCount': previous.attemptCount,
        ':previousStatus': previous.status,
      },
    };
  }

  private stateUpdate(delivery: Delivery, firstAttempt?: EmbeddedAttempt) {
    const values: Record<string, unknown> = {
      ...stateOf(delivery),
      ...deliveryIndexKeys(delivery),
      ...(firstAttempt && { firstAttempt }),
    };
    const removed = [...OPTIONAL_STATE, ...deliveryIndexAttributes].filter((name) => values[name] === undefined);
    const names: Record<string, string> = {};
    const expressionValues: Record<string, unknown> = {};
    const sets = Object.entries(values)
      .filter(([, value]) => value !== undefined)
      .map(([name, value], i) => {
        names[`#a${i}`] = name;
        expressionValues[`:a${i}`] = value;
        return `#a${i} = :a${i}`;
      });
    const removes = removed.map((name, i) => {
      names[`#r${i}`] = name;
      return `#r${i}`;
    });
    names['#status'] = 'status';
    return {
      TableName: this.table.name,
      Key: keys.delivery(delivery.id),
      UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: expressionValues,
    };
  }
}

/** State fields a delivery may or may not have; an update removes the ones its new state lacks. */
const OPTIONAL_STATE = ['nextAttemptAt', 'lastAttemptAt', 'lastStatusCode', 'lastError'] as const;

function stateOf(delivery: Delivery): Record<string, unknown> {
  return {
    status: delivery.status,
    attemptCount: delivery.attemptCount,
    scheduledAttempts: delivery.scheduledAttempts,
    updatedAt: delivery.updatedAt,
    nextAttemptAt: delivery.nextAttemptAt,
    lastAttemptAt: delivery.lastAttemptAt,
    lastStatusCode: delivery.lastStatusCode,
    lastError: delivery.lastError,
  };
}

function deliveryKeys(ids: readonly string[]): ItemKey[] {
  return ids.filter(isDeliveryId).map((id) => keys.delivery(id));
}
