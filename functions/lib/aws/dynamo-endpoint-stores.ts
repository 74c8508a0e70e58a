import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Endpoint, EventType, Page, PageRequest } from '../core/model.ts';
import type { EndpointStore, EventTypeStore } from '../core/ports.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { endpointItem, endpointOf, eventTypeItem, eventTypeOf } from './ledger-items.ts';
import { keys } from './ledger-keys.ts';
import { isConditionFailure, type LedgerTable, partitionPrefix, queryAll, queryPage } from './ledger-table.ts';

export class DynamoEventTypeStore implements EventTypeStore {
  constructor(private readonly table: LedgerTable) {}

  async put(eventType: EventType): Promise<void> {
    await this.table.client.send(new PutCommand({ TableName: this.table.name, Item: eventTypeItem(eventType) }));
  }

  async get(tenantId: string, name: string): Promise<EventType | undefined> {
    const { Item } = await this.table.client.send(new GetCommand({ TableName: this.table.name, Key: keys.eventType(tenantId, name) }));
    return Item && eventTypeOf(Item);
  }

  list(tenantId: string, page: PageRequest): Promise<Page<EventType>> {
    return queryPage(
      this.table,
      {
        ...partitionPrefix(keys.eventTypesOfTenant(tenantId)),
        // Names read best in alphabetical order.
        ScanIndexForward: true,
      },
      page,
      (item) => eventTypeOf(item),
    );
  }

  async delete(tenantId: string, name: string): Promise<boolean> {
    const { Attributes } = await this.table.client.send(
      new DeleteCommand({ TableName: this.table.name, Key: keys.eventType(tenantId, name), ReturnValues: 'ALL_OLD' }),
    );
    return Attributes !== undefined;
  }
}

/** Signing secrets and Basic-auth passwords are sealed at rest; the core sees them open. */
export class DynamoEndpointStore implements EndpointStore {
  constructor(
    private readonly table: LedgerTable,
    private readonly box: SecretBox,
  ) {}

  async create(endpoint: Endpoint): Promise<void> {
    await this.table.client.send(
      new PutCommand({
        TableName: this.table.name,
        Item: endpointItem(endpoint, this.box),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async get(tenantId: string, id: string): Promise<Endpoint | undefined> {
    const { Item } = await this.table.client.send(
      new GetCommand({ TableName: this.table.name, Key: keys.endpoint(tenantId, id), ConsistentRead: true }),
    );
    return Item && endpointOf(Item, this.box);
  }

  list(tenantId: string, page: PageRequest): Promise<Page<Endpoint>> {
    return queryPage(
      this.table,
      {
        ...partitionPrefix(keys.endpointsOfTenant(tenantId)),
      },
      page,
      (item) => endpointOf(item, this.box),
    );
  }

  async listAll(tenantId: string): Promise<readonly Endpoint[]> {
    const items = await queryAll(this.table, {
      ...partitionPrefix(keys.endpointsOfTenant(tenantId)),
    });
    return items.map((item) => endpointOf(item, this.box));
  }

  async update(endpoint: Endpoint): Promise<boolean> {
    try {
      await this.table.client.send(
        new PutCommand({ TableName: this.table.name, Item: endpointItem(endpoint, this.box), ConditionExpression: 'attribute_exists(pk)' }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    const { Attributes } = await this.table.client.send(
      new DeleteCommand({ TableName: this.table.name, Key: keys.endpoint(tenantId, id), ReturnValues: 'ALL_OLD' }),
    );
    return Attributes !== undefined;
  }

  async disable(tenantId: string, id: string, reason: string, at: string): Promise<boolean> {
    try {
      await this.table.client.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: keys.endpoint(tenantId, id),
          UpdateExpression: 'SET disabled = :true, disabledReason = :reason, updatedAt = :at',
          ConditionExpression: 'attribute_exists(pk) AND disabled = :false',
          ExpressionAttributeValues: { ':true': true, ':false': false, ':reason': reason, ':at': at },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async recordFailure(tenantId: string, id: string, at: string): Promise<string | undefined> {
    try {
      const { Attributes } = await this.table.client.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: keys.endpoint(tenantId, id),
          UpdateExpression:
            'SET failingSince = if_not_exists(failingSince, :at), consecutiveFailures = if_not_exists(consecutiveFailures, :zero) + :one',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':at': at, ':zero': 0, ':one': 1 },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return typeof Attributes?.failingSince === 'string' ? Attributes.failingSince : undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async recordSuccess(tenantId: string, id: string): Promise<boolean> {
    try {
      await this.table.client.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: keys.endpoint(tenantId, id),
          UpdateExpression: 'REMOVE failingSince, consecutiveFailures',
          ConditionExpression: 'attribute_exists(failingSince)',
        }),
      );
      return true;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      return false;
    }
  }

  /** One conditional update, made only when a run of failures starts: the hourly limit of `message.attempt.failing`. */
  async claimFailingNotice(tenantId: string, id: string, at: string, notBefore: string): Promise<boolean> {
    try {
      await this.table.client.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: keys.endpoint(tenantId, id),
          UpdateExpression: 'SET failingNoticeAt = :at',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(failingNoticeAt) OR failingNoticeAt < :notBefore)',
          ExpressionAttributeValues: { ':at': at, ':notBefore': notBefore },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}
