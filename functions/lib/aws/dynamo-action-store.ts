import { GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { ConflictError } from '../core/errors.ts';
import type { Action, Page, PageRequest, TriggerRecord } from '../core/model.ts';
import type { ActionStore } from '../core/ports.ts';
import { actionByEventItem, actionItem, actionOf, triggerItem, triggerOf } from './ledger-items.ts';
import { keys } from './ledger-keys.ts';
import { isTransactionConflict, type LedgerTable, partition, partitionPrefix, queryPage } from './ledger-table.ts';

/**
 * An action lives under its tenant, with a second item keyed by its `event_id` so a trigger
 * finds it with one read; both are written and removed together, which keeps `event_id` unique.
 */
export class DynamoActionStore implements ActionStore {
  constructor(private readonly table: LedgerTable) {}

  async create(action: Action): Promise<void> {
    try {
      await this.table.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table.name,
                Item: actionItem(action),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.table.name,
                Item: actionByEventItem(action),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (isTransactionConflict(error) && error.CancellationReasons?.[1]?.Code === 'ConditionalCheckFailed') {
        throw new ConflictError(`an action for event_id '${action.eventId}' already exists; delete it first or use another event_id`);
      }
      throw error;
    }
  }

  async get(tenantId: string, id: string): Promise<Action | undefined> {
    const { Item } = await this.table.client.send(
      new GetCommand({ TableName: this.table.name, Key: keys.action(tenantId, id), ConsistentRead: true }),
    );
    return Item && actionOf(Item);
  }

  async findByEventId(tenantId: string, eventId: string): Promise<Action | undefined> {
    const { Item } = await this.table.client.send(
      new GetCommand({ TableName: this.table.name, Key: keys.actionByEvent(tenantId, eventId), ConsistentRead: true }),
    );
    return typeof Item?.actionId === 'string' ? this.get(tenantId, Item.actionId) : undefined;
  }

  list(tenantId: string, page: PageRequest): Promise<Page<Action>> {
    return queryPage(
      this.table,
      {
        ...partitionPrefix(keys.actionsOfTenant(tenantId)),
      },
      page,
      (item) => actionOf(item),
    );
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    const action = await this.get(tenantId, id);
    if (!action) return false;
    await this.table.client.send(
      new TransactWriteCommand({
        TransactItems: [
          { Delete: { TableName: this.table.name, Key: keys.action(tenantId, id) } },
          { Delete: { TableName: this.table.name, Key: keys.actionByEvent(tenantId, action.eventId) } },
        ],
      }),
    );
    return true;
  }

  async recordTrigger(trigger: TriggerRecord): Promise<void> {
    await this.table.client.send(
      new PutCommand({
        TableName: this.table.name,
        Item: triggerItem(this.table, trigger),
      }),
    );
  }

  listTriggers(actionId: string, page: PageRequest): Promise<Page<TriggerRecord>> {
    return queryPage(this.table, partition(keys.triggersOfAction(actionId)), page, triggerOf);
  }
}
