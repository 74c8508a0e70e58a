import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DueItem, DueWorkIndex, RateLimiter } from '../core/ports.ts';
import { DUE_SHARDS, keys } from './ledger-keys.ts';
import { isConditionFailure, type LedgerTable } from './ledger-table.ts';

/**
 * A fixed-window counter per endpoint and second, shared by every worker: one conditional
 * increment per attempt, only for endpoints that set `rateLimitPerSecond`.
 */
export class DynamoRateLimiter implements RateLimiter {
  constructor(private readonly table: LedgerTable) {}

  async tryAcquire(endpointId: string, limitPerSecond: number, now: Date): Promise<boolean> {
    const second = Math.floor(now.getTime() / 1000);
    try {
      await this.table.client.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: { pk: `RATE#${endpointId}`, sk: String(second) },
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

/** The sweeper's view of the sparse `gsi5` index: messages not fanned out, deliveries with a next attempt. */
export class DynamoDueWorkIndex implements DueWorkIndex {
  constructor(private readonly table: LedgerTable) {}

  async overdue(before: string, limit: number): Promise<readonly DueItem[]> {
    const perShard = Math.ceil(limit / DUE_SHARDS);
    const shards = await Promise.all(
      Array.from({ length: DUE_SHARDS }, (_, shard) =>
        this.table.client.send(
          new QueryCommand({
            TableName: this.table.name,
            IndexName: 'gsi5',
            KeyConditionExpression: 'gsi5pk = :shard AND gsi5sk < :before',
            ExpressionAttributeValues: { ':shard': `DUE#${shard}`, ':before': before },
            Limit: perShard,
          }),
        ),
      ),
    );
    return shards.flatMap((result) =>
      (result.Items ?? []).flatMap((item): DueItem[] => {
        const pk = String(item.pk);
        if (pk.startsWith('DLV#')) return [{ kind: 'delivery', id: pk.slice(4) }];
        if (pk.startsWith('MSG#')) return [{ kind: 'message', id: pk.slice(4) }];
        return [];
      }),
    );
  }

  async postpone(item: DueItem, until: string): Promise<void> {
    const key = item.kind === 'delivery' ? keys.delivery(item.id) : keys.message(item.id);
    try {
      await this.table.client.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: key,
          UpdateExpression: 'SET gsi5sk = :sk',
          // Only while it is still in the index: a finished item must not re-enter it.
          ConditionExpression: 'attribute_exists(gsi5pk)',
          ExpressionAttributeValues: { ':sk': `${until}#${item.id}` },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
}
