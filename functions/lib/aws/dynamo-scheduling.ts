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
    const results = await Promise.all(
      shards.map((shard) =>
        this.table.client.send(
          new QueryCommand({
            TableName: this.table.name,
            IndexName: 'gsi5',
            KeyConditionExpression: 'gsi5pk = :shard AND gsi5sk < :before',
            ExpressionAttributeValues: { ':shard': shard, ':before': before },
            Limit: Math.ceil(limit / shards.length),
          }),
        ),
      ),
    );
    // The due key is `<time>#<delivery id>`: the id is what follows the last `#`.
    return results.flatMap((result) =>
      (result.Items ?? []).map((item): DueItem => {
        return { id: keys.deliveryIdOfDueSortKey(String(item.gsi5sk)) };
      }),
    );
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
 * The dispatched messages in `gsi5`, by id (creation time), with their endpoints projected into
 * the index, and the sweeper's bookmark in one small item.
 */
export class DynamoDispatchedMessages implements DispatchedMessages {
  constructor(private readonly table: LedgerTable) {}

  async after(position: string | undefined, before: string, limit: number): Promise<readonly DispatchedMessage[]> {
    // Strictly after `position`: ids have one length, so `position` + NUL sorts just above it.
    const from = position === undefined ? 'msg_' : `${position}\u0000`;
    const to = idFloor('message', new Date(before));
    const results = await Promise.all(
      keys.dispatchShards().map((shard) =>
        this.table.client.send(
          new QueryCommand({
            TableName: this.table.name,
            IndexName: 'gsi5',
            KeyConditionExpression: 'gsi5pk = :shard AND gsi5sk BETWEEN :from AND :to',
            ExpressionAttributeValues: { ':shard': shard, ':from': from, ':to': to },
            Limit: limit,
          }),
        ),
      ),
    );
    return results
      .flatMap((result) => result.Items ?? [])
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
    const to = idFloor('message', new Date(before));
    const results = await Promise.all(
      keys.scheduledShards().map((shard) =>
        this.table.client.send(
          new QueryCommand({
            TableName: this.table.name,
            IndexName: 'gsi5',
            KeyConditionExpression: 'gsi5pk = :shard AND gsi5sk < :to',
            ExpressionAttributeValues: { ':shard': shard, ':to': to },
            Limit: limit,
          }),
        ),
      ),
    );
    return results
      .flatMap((result) => (result.Items ?? []).map((item) => String(item.gsi5sk)))
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
