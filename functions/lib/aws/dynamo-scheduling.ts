import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { idFloor, timeOfId } from '../core/ids.ts';
import type { DispatchedMessage, DispatchedMessages, DueItem, DueWorkIndex, RateLimiter, RateSubject } from '../core/ports.ts';
import { keys } from './ledger-keys.ts';
import { isConditionFailure, type LedgerTable } from './ledger-table.ts';

/**
 * A fixed-window counter per endpoint and second, shared by every worker: one conditional
 * increment per attempt, only for endpoints that set `rateLimitPerSecond`.
 */
export class DynamoRateLimiter implements RateLimiter {
  constructor(private readonly table: LedgerTable) {}

  async tryAcquire(subject: RateSubject, limitPerSecond: number, now: Date): Promise<boolean> {
    const second = Math.floor(now.getTime() / 1000);
    try {
      await this.table.client.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: keys.rateCounter(subject, second),
          UpdateExpression: 'ADD used :one SET expiresAt = :expires',
          ConditionExpression: 'attribute_not_exists(used) OR used < :limit',
          ExpressionAttributeValues: { ':one': 1, ':limit': limitPerSecond, ':expires': second + 120 },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}

/** The sweeper's view of the sparse `gsi5` index: deliveries with a next attempt, by due time. */
export class DynamoDueWorkIndex implements DueWorkIndex {
  constructor(private readonly table: LedgerTable) {}

  async overdue(before: string, limit: number): Promise<readonly DueItem[]> {
    const shards = keys.dueShards();
    const items = await queryShards(this.table, shards, 'gsi5sk < :before', { ':before': before }, Math.ceil(limit / shards.length));
    // The due key is `<time>#<delivery id>`: the id is what follows the last `#`.
    return items.map((item): DueItem => ({ id: keys.deliveryIdOfDueSortKey(String(item.gsi5sk)) }));
  }

  async postpone(item: DueItem, until: string): Promise<void> {
    try {
      await this.table.client.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: keys.delivery(item.id),
          UpdateExpression: 'SET gsi5sk = :sk',
          // Only while it is still in the index: a finished item must not re-enter it.
          ConditionExpression: 'attribute_exists(gsi5pk)',
          ExpressionAttributeValues: { ':sk': keys.dueSortKey(until, item.id) },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
}

/**
 * The dispatched messages in `gsi5`, by when they fan out (an id's creation time, or a scheduled
 * message's `deliverAt`), with their endpoints projected into the index; the scheduled ones still
 * waiting for the sweeper; and the sweeper's bookmark in one small item.
 */
export class DynamoDispatchedMessages implements DispatchedMessages {
  constructor(private readonly table: LedgerTable) {}

  async after(position: string | undefined, before: string, limit: number): Promise<readonly DispatchedMessage[]> {
    // Strictly after `position`: `position` + NUL sorts just above it, and below every other place
    // (places differ within their first 30 characters, the id they start with).
    const from = position === undefined ? 'msg_' : `${position}\u0000`;
    const to = idFloor('message', new Date(before));
    const items = await queryShards(this.table, keys.dispatchShards(), 'gsi5sk BETWEEN :from AND :to', { ':from': from, ':to': to }, limit);
    return items
      .map((item) => ({
        messageId: keys.messageIdOfDispatchSortKey(String(item.gsi5sk)),
        tenantId: String(item.tenantId),
        endpointIds: (item.endpointIds as string[] | undefined) ?? [],
        position: String(item.gsi5sk),
        // A scheduled message's place carries its deliverAt where an id carries its creation.
        dispatchAt: timeOfId(String(item.gsi5sk)),
      }))
      .sort((a, b) => (a.position < b.position ? -1 : 1))
      .slice(0, limit);
  }

  async checkedUpTo(): Promise<string | undefined> {
    const { Item } = await this.table.client.send(
      new GetCommand({ TableName: this.table.name, Key: keys.sweeperBookmark(), ConsistentRead: true }),
    );
    return typeof Item?.position === 'string' ? Item.position : undefined;
  }

  async markCheckedUpTo(position: string, previous: string | undefined): Promise<boolean> {
    try {
      await this.table.client.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: keys.sweeperBookmark(),
          UpdateExpression: 'SET #position = :position',
          ConditionExpression: previous === undefined ? 'attribute_not_exists(pk)' : '#position = :previous',
          ExpressionAttributeNames: { '#position': 'position' },
          ExpressionAttributeValues: { ':position': position, ...(previous !== undefined && { ':previous': previous }) },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  positionAt(at: string): string {
    return idFloor('message', new Date(at));
  }

  async scheduledBefore(before: string, limit: number): Promise<readonly string[]> {
    const items = await queryShards(
      this.table,
      keys.scheduledShards(),
      'gsi5sk < :to',
      { ':to': idFloor('message', new Date(before)) },
      limit,
    );
    return items
      .map((item) => String(item.gsi5sk))
      .sort()
      .slice(0, limit)
      .map((sortKey) => keys.messageIdOfDispatchSortKey(sortKey));
  }

  async handOver(messageId: string): Promise<boolean> {
    try {
      await this.table.client.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: keys.message(messageId),
          // Its place stays; only the partition changes, and only while it still waits (not cancelled, not taken).
          UpdateExpression: 'SET gsi5pk = :dispatched',
          ConditionExpression: 'gsi5pk = :scheduled AND attribute_not_exists(cancelledAt)',
          ExpressionAttributeValues: { ':dispatched': keys.dispatchShard(messageId), ':scheduled': keys.scheduledShard(messageId) },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}

/** One Query per shard of `gsi5`, in parallel (the sweeper's indexes are sharded so none is hot): the entries of all. */
async function queryShards(
  table: LedgerTable,
  shards: readonly string[],
  sortKeyCondition: string,
  values: Readonly<Record<string, string>>,
  limitPerShard: number,
): Promise<Record<string, unknown>[]> {
  const results = await Promise.all(
    shards.map((shard) =>
      table.client.send(
        new QueryCommand({
          TableName: table.name,
          IndexName: 'gsi5',
          KeyConditionExpression: `gsi5pk = :shard AND ${sortKeyCondition}`,
          ExpressionAttributeValues: { ':shard': shard, ...values },
          Limit: limitPerShard,
        }),
      ),
    ),
  );
  return results.flatMap((result) => result.Items ?? []);
}
