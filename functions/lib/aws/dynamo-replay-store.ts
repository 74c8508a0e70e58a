import { GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { ReplayTask } from '../core/model.ts';
import type { ReplayTaskStore } from '../core/ports.ts';
import { keys, stripKeys } from './ledger-keys.ts';
import { expiresAtFor, isConditionFailure, isTransactionConflict, type LedgerTable } from './ledger-table.ts';

/**
 * Replay tasks, in their tenant's partition, kept for the retention period like the history they
 * replay. Beside them, one lock item per endpoint names its newest task; a new task replaces the
 * lock only if it still names the task the starter saw.
 */
export class DynamoReplayTaskStore implements ReplayTaskStore {
  constructor(private readonly table: LedgerTable) {}

  async get(tenantId: string, taskId: string): Promise<ReplayTask | undefined> {
    const { Item } = await this.table.client.send(
      new GetCommand({ TableName: this.table.name, Key: keys.task(tenantId, taskId), ConsistentRead: true }),
    );
    return Item ? stripKeys<ReplayTask>(Item) : undefined;
  }

  async current(tenantId: string, endpointId: string): Promise<{ taskId: string; task?: ReplayTask } | undefined> {
    const { Item } = await this.table.client.send(
      new GetCommand({ TableName: this.table.name, Key: keys.replayLock(tenantId, endpointId), ConsistentRead: true }),
    );
    if (!Item) return undefined;
    const taskId = String(Item.taskId);
    const task = await this.get(tenantId, taskId);
    return { taskId, ...(task && { task }) };
  }

  async start(task: ReplayTask, lockedBy: string | undefined, abandoned?: ReplayTask): Promise<boolean> {
    try {
      await this.table.client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.table.name, Item: this.itemOf(task), ConditionExpression: 'attribute_not_exists(pk)' } },
            {
              Put: {
                TableName: this.table.name,
                Item: { ...keys.replayLock(task.tenantId, task.endpointId), entity: 'replayLock', taskId: task.id },
                ...(lockedBy === undefined
                  ? { ConditionExpression: 'attribute_not_exists(pk)' }
                  : { ConditionExpression: 'taskId = :lockedBy', ExpressionAttributeValues: { ':lockedBy': lockedBy } }),
              },
            },
            ...(abandoned ? [{ Put: this.conditionalPut(abandoned, abandoned.step) }] : []),
          ],
        }),
      );
      return true;
    } catch (error) {
      if (isTransactionConflict(error) && error.CancellationReasons?.some((reason) => reason.Code === 'ConditionalCheckFailed'))
        return false;
      throw error;
    }
  }

  async save(task: ReplayTask, fromStep: number): Promise<boolean> {
    try {
      await this.table.client.send(new PutCommand(this.conditionalPut(task, fromStep)));
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  private conditionalPut(task: ReplayTask, fromStep: number) {
    return {
      TableName: this.table.name,
      Item: this.itemOf(task),
      ConditionExpression: '#step = :fromStep',
      ExpressionAttributeNames: { '#step': 'step' },
      ExpressionAttributeValues: { ':fromStep': fromStep },
    };
  }

  private itemOf(task: ReplayTask): Record<string, unknown> {
    return { ...keys.task(task.tenantId, task.id), entity: 'task', ...task, expiresAt: expiresAtFor(this.table, task.createdAt) };
  }
}
