import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Attempt, Delivery, DeliveryEvent, DeliveryStatus, Endpoint, Message, Page, PageRequest } from '../core/model.ts';
import type {
  AttemptRecord,
  DeliveryContext,
  DeliveryContextLoader,
  DeliveryJob,
  DeliveryListFilter,
  DeliveryStore,
} from '../core/ports.ts';
import type { DynamoEndpointStore } from './dynamo-endpoint-stores.ts';
import { keys, stripKeys } from './ledger-keys.ts';
import {
  chunk,
  decodeCursor,
  encodeCursor,
  expiresAtFor,
  isConditionFailure,
  isTransactionConflict,
  type LedgerTable,
  partition,
  queryAll,
  queryPage,
} from './ledger-table.ts';

/** DynamoDB's limits: 100 items a transaction and a BatchGetItem. */
const TRANSACTION_LIMIT = 100;
const BATCH_GET_LIMIT = 100;

export class DynamoDeliveryStore implements DeliveryStore, DeliveryContextLoader {
  constructor(
    private readonly table: LedgerTable,
    private readonly endpointStore: DynamoEndpointStore,
  ) {}

  async createMany(deliveries: readonly Delivery[]): Promise<readonly string[]> {
    const created: string[] = [];
    for (const group of chunk(deliveries, TRANSACTION_LIMIT)) {
      const puts = group.map((delivery) => ({
        TableName: this.table.name,
        Item: this.toItem(delivery),
        ConditionExpression: 'attribute_not_exists(pk)',
      }));
      try {
        await this.table.client.send(new TransactWriteCommand({ TransactItems: puts.map((Put) => ({ Put })) }));
        created.push(...group.map((d) => d.id));
      } catch (error) {
        if (!isTransactionConflict(error)) throw error;
        // Some already exist (a repeated fan-out): create the rest one by one, keeping the others.
        for (const [index, put] of puts.entries()) {
          try {
            await this.table.client.send(new PutCommand(put));
            created.push(group[index]?.id ?? '');
          } catch (putError) {
            if (!isConditionFailure(putError)) throw putError;
          }
        }
      }
    }
    return created;
  }

  async get(id: string): Promise<Delivery | undefined> {
    const { Item } = await this.table.client.send(
      new GetCommand({ TableName: this.table.name, Key: keys.delivery(id), ConsistentRead: true }),
    );
    return Item && toDelivery(Item);
  }

  async getMany(ids: readonly string[]): Promise<ReadonlyMap<string, Delivery>> {
    const items = await this.batchGet(ids.map((id) => keys.delivery(id)));
    return new Map(items.map((item) => [String(item.id), toDelivery(item)]));
  }

  async getWithAttempts(
    id: string,
  ): Promise<{ delivery: Delivery; attempts: readonly Attempt[]; events: readonly DeliveryEvent[] } | undefined> {
    // The delivery, its attempts and its audit events share a partition: one query reads them all.
    const items = await queryAll(this.table, {
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.delivery(id).pk },
      ConsistentRead: true,
    });
    const deliveryItem = items.find((item) => item.sk === 'DLV');
    if (!deliveryItem) return undefined;
    const attempts = items.filter((item) => String(item.sk).startsWith('ATT#')).map((item) => stripKeys<Attempt>(item));
    const events = items.filter((item) => String(item.sk).startsWith('EVT#')).map((item) => stripKeys<DeliveryEvent>(item));
    return { delivery: toDelivery(deliveryItem), attempts, events };
  }

  async recordEvent(event: DeliveryEvent): Promise<void> {
    await this.table.client.send(new PutCommand({ TableName: this.table.name, Item: this.eventItem(event) }));
  }

  async acknowledge(delivery: Delivery, event: DeliveryEvent): Promise<'acknowledged' | 'already'> {
    const { nextAttemptAt: _next, ...rest } = delivery;
    const acknowledged: Delivery = { ...rest, status: 'acknowledged', updatedAt: event.at };
    try {
      await this.table.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table.name,
                Item: this.toItem(acknowledged),
                // A late ack of a dead delivery counts too: the receiver did get the event.
                ConditionExpression: '#status IN (:pending, :failed, :dead)',
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: { ':pending': 'pending', ':failed': 'failed', ':dead': 'dead' },
              },
            },
            { Put: { TableName: this.table.name, Item: this.eventItem(event), ConditionExpression: 'attribute_not_exists(pk)' } },
          ],
        }),
      );
      return 'acknowledged';
    } catch (error) {
      if (isTransactionConflict(error) && error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed') return 'already';
      throw error;
    }
  }

  async listOpenByEndpoint(endpointId: string, page: PageRequest): Promise<Page<Delivery>> {
    // Two partitions (pending, failed) merged newest first. The cursor is the last id returned,
    // so each page is `id < cursor` in both: keyset pagination across partitions.
    const raw = decodeCursor(page.cursor)?.before;
    if (raw !== undefined && typeof raw !== 'string') decodeCursor('!');
    const before = typeof raw === 'string' ? raw : undefined;
    const parts = await Promise.all(
      (['pending', 'failed'] as const).map(async (status) => {
        const result = await this.table.client.send(
          new QueryCommand({
            TableName: this.table.name,
            IndexName: 'gsi3',
            KeyConditionExpression: before ? 'gsi3pk = :pk AND gsi3sk < :before' : 'gsi3pk = :pk',
            ExpressionAttributeValues: {
              ':pk': keys.deliveriesOfEndpointByStatus(endpointId, status),
              ...(before && { ':before': before }),
            },
            ScanIndexForward: false,
            Limit: page.limit,
          }),
        );
        return { items: (result.Items ?? []).map(toDelivery), more: result.LastEvaluatedKey !== undefined };
      }),
    );
    const merged = parts.flatMap((p) => p.items).sort((a, b) => (a.id < b.id ? 1 : -1));
    const items = merged.slice(0, page.limit);
    const more = merged.length > page.limit || parts.some((p) => p.more);
    const last = items.at(-1);
    const nextCursor = more && last ? encodeCursor({ before: last.id }) : undefined;
    return { items, ...(nextCursor && { nextCursor }) };
  }

  private eventItem(event: DeliveryEvent): Record<string, unknown> {
    return {
      pk: keys.delivery(event.deliveryId).pk,
      sk: `EVT#${event.id}`,
      entity: 'deliveryEvent',
      expiresAt: expiresAtFor(this.table, event.at),
      ...event,
    };
  }

  listByMessage(messageId: string, page: PageRequest): Promise<Page<Delivery>> {
    return queryPage(this.table, partition(keys.deliveriesOfMessage(messageId), 'gsi1'), page, (item) => toDelivery(item));
  }

  listByEndpoint(endpointId: string, filter: DeliveryListFilter, page: PageRequest): Promise<Page<Delivery>> {
    const query = filter.status
      ? partition(keys.deliveriesOfEndpointByStatus(endpointId, filter.status), 'gsi3')
      : partition(keys.deliveriesOfEndpoint(endpointId), 'gsi2');
    return queryPage(this.table, query, page, (item) => toDelivery(item));
  }

  listByTenant(tenantId: string, status: DeliveryStatus, page: PageRequest): Promise<Page<Delivery>> {
    return queryPage(this.table, partition(keys.deliveriesOfTenantByStatus(tenantId, status), 'gsi4'), page, toDelivery);
  }

  async listAllByEndpoint(endpointId: string, statuses: readonly DeliveryStatus[], sinceId?: string): Promise<readonly Delivery[]> {
    const lists = await Promise.all(
      statuses.map((status) =>
        queryAll(this.table, {
          IndexName: 'gsi3',
          KeyConditionExpression: sinceId ? 'gsi3pk = :pk AND gsi3sk >= :since' : 'gsi3pk = :pk',
          ExpressionAttributeValues: {
            ':pk': keys.deliveriesOfEndpointByStatus(endpointId, status),
            ...(sinceId && { ':since': sinceId }),
          },
          ScanIndexForward: false,
        }),
      ),
    );
    return lists
      .flat()
      .map(toDelivery)
      .sort((a, b) => (a.id < b.id ? 1 : -1));
  }

  async recordAttempt(record: AttemptRecord): Promise<boolean> {
    try {
      await this.table.client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { ...this.conditionalPut(record.delivery, record.previous) } },
            {
              Put: {
                TableName: this.table.name,
                Item: {
                  ...keys.attempt(record.attempt.deliveryId, record.attempt.attempt),
                  entity: 'attempt',
                  expiresAt: expiresAtFor(this.table, record.attempt.startedAt),
                  ...record.attempt,
                },
                // One record per attempt number, whatever the queue redelivers.
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (isTransactionConflict(error) && error.CancellationReasons?.some((r) => r.Code === 'ConditionalCheckFailed')) return false;
      throw error;
    }
  }

  async update(delivery: Delivery, previous: Delivery): Promise<boolean> {
    try {
      await this.table.client.send(new PutCommand(this.conditionalPut(delivery, previous)));
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async load(jobs: readonly DeliveryJob[]): Promise<DeliveryContext> {
    const wanted = new Map<string, Record<string, string>>();
    for (const job of jobs) {
      for (const key of [keys.delivery(job.deliveryId), keys.endpoint(job.tenantId, job.endpointId), keys.message(job.messageId)]) {
        wanted.set(`${key.pk}|${key.sk}`, key);
      }
    }
    const found = new Map<string, Record<string, unknown>>();
    for (const item of await this.batchGet([...wanted.values()])) found.set(`${item.pk}|${item.sk}`, item);
    const cache = new Map<string, Endpoint>();
    return {
      delivery: (id) => {
        const item = found.get(`${keys.delivery(id).pk}|DLV`);
        return item && toDelivery(item);
      },
      endpoint: (tenantId, id) => {
        const key = keys.endpoint(tenantId, id);
        const item = found.get(`${key.pk}|${key.sk}`);
        if (!item) return undefined;
        const cached = cache.get(id) ?? this.endpointStore.fromItem(item);
        cache.set(id, cached);
        return cached;
      },
      message: (id) => {
        const item = found.get(`${keys.message(id).pk}|MSG`);
        return item && stripKeys<Message>(item);
      },
    };
  }

  private async batchGet(keyList: readonly Record<string, string>[]): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    for (const group of chunk(keyList, BATCH_GET_LIMIT)) {
      let pending: Record<string, unknown>[] | undefined = group;
      for (let round = 0; pending && pending.length > 0; round++) {
        if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** round)));
        const result: BatchGetCommandOutput = await this.table.client.send(
          new BatchGetCommand({ RequestItems: { [this.table.name]: { Keys: pending, ConsistentRead: true } } }),
        );
        items.push(...(result.Responses?.[this.table.name] ?? []));
        pending = result.UnprocessedKeys?.[this.table.name]?.Keys;
      }
    }
    return items;
  }

  /** A whole-item put that applies only if the ledger still holds `previous` (status and count). */
  private conditionalPut(delivery: Delivery, previous: Delivery) {
    return {
      TableName: this.table.name,
      Item: this.toItem(delivery),
      ConditionExpression: 'attemptCount = :count AND #status = :status',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':count': previous.attemptCount, ':status': previous.status },
    };
  }

  private toItem(delivery: Delivery): Record<string, unknown> {
    return {
      ...keys.delivery(delivery.id),
      entity: 'delivery',
      gsi1pk: keys.deliveriesOfMessage(delivery.messageId),
      gsi1sk: delivery.id,
      gsi2pk: keys.deliveriesOfEndpoint(delivery.endpointId),
      gsi2sk: delivery.id,
      gsi3pk: keys.deliveriesOfEndpointByStatus(delivery.endpointId, delivery.status),
      gsi3sk: delivery.id,
      gsi4pk: keys.deliveriesOfTenantByStatus(delivery.tenantId, delivery.status),
      gsi4sk: delivery.id,
      // Only deliveries with a next attempt sit in the sweeper's index.
      ...(delivery.nextAttemptAt && { gsi5pk: keys.dueShard(delivery.id), gsi5sk: `${delivery.nextAttemptAt}#${delivery.id}` }),
      expiresAt: expiresAtFor(this.table, delivery.createdAt),
      ...delivery,
    };
  }
}

/** Items written before `scheduledAttempts` existed count every attempt as scheduled. */
function toDelivery(item: Record<string, unknown>): Delivery {
  const stored = stripKeys<Delivery & { scheduledAttempts?: number }>(item);
  return { ...stored, scheduledAttempts: stored.scheduledAttempts ?? stored.attemptCount };
}
