import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Endpoint, EventType, Page, PageRequest } from '../core/model.ts';
import type { EndpointStore, EventTypeStore } from '../core/ports.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { keys, stripKeys } from './ledger-keys.ts';
import { isConditionFailure, type LedgerTable, partitionPrefix, queryAll, queryPage, type SealedItems } from './ledger-table.ts';

type StoredEventType = Omit<EventType, 'schema'> & { schemaJson?: string };

export class DynamoEventTypeStore implements EventTypeStore {
  constructor(private readonly table: LedgerTable) {}

  async put(eventType: EventType): Promise<void> {
    const { schema, ...rest } = eventType;
    // Stored as JSON text: a schema's keys and numbers survive exactly, whatever they are.
    const item: StoredEventType = { ...rest, ...(schema && { schemaJson: JSON.stringify(schema) }) };
    await this.table.client.send(
      new PutCommand({
        TableName: this.table.name,
        Item: { ...keys.eventType(eventType.tenantId, eventType.name), entity: 'eventType', ...item },
      }),
    );
  }

  async get(tenantId: string, name: string): Promise<EventType | undefined> {
    const { Item } = await this.table.client.send(new GetCommand({ TableName: this.table.name, Key: keys.eventType(tenantId, name) }));
    return Item && toEventType(stripKeys<StoredEventType>(Item));
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
      (item) => toEventType(stripKeys<StoredEventType>(item)),
    );
  }

  async delete(tenantId: string, name: string): Promise<boolean> {
    const { Attributes } = await this.table.client.send(
      new DeleteCommand({ TableName: this.table.name, Key: keys.eventType(tenantId, name), ReturnValues: 'ALL_OLD' }),
    );
    return Attributes !== undefined;
  }
}

function toEventType(stored: StoredEventType): EventType {
  const { schemaJson, ...rest } = stored;
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

/** Signing secrets and Basic-auth passwords are sealed at rest; the core sees them open. */
export class DynamoEndpointStore implements EndpointStore {
  constructor(
    private readonly table: LedgerTable,
    private readonly box: SecretBox,
  ) {}

  async create(endpoint: Endpoint): Promise<void> {
    await this.table.client.send(
      new PutCommand({ TableName: this.table.name, Item: this.toItem(endpoint), ConditionExpression: 'attribute_not_exists(pk)' }),
    );
  }

  async get(tenantId: string, id: string): Promise<Endpoint | undefined> {
    const { Item } = await this.table.client.send(
      new GetCommand({ TableName: this.table.name, Key: keys.endpoint(tenantId, id), ConsistentRead: true }),
    );
    return Item && this.fromItem(Item);
  }

  list(tenantId: string, page: PageRequest): Promise<Page<Endpoint>> {
    return queryPage(
      this.table,
      {
        ...partitionPrefix(keys.endpointsOfTenant(tenantId)),
      },
      page,
      (item) => this.fromItem(item),
    );
  }

  async listAll(tenantId: string): Promise<readonly Endpoint[]> {
    const items = await queryAll(this.table, {
      ...partitionPrefix(keys.endpointsOfTenant(tenantId)),
    });
    return items.map((item) => this.fromItem(item));
  }

  async update(endpoint: Endpoint): Promise<boolean> {
    try {
      await this.table.client.send(
        new PutCommand({ TableName: this.table.name, Item: this.toItem(endpoint), ConditionExpression: 'attribute_exists(pk)' }),
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

  async recordSuccess(tenantId: string, id: string): Promise<void> {
    try {
      await this.table.client.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: keys.endpoint(tenantId, id),
          UpdateExpression: 'REMOVE failingSince, consecutiveFailures',
          ConditionExpression: 'attribute_exists(failingSince)',
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  private toItem(endpoint: Endpoint): Record<string, unknown> {
    return {
      ...keys.endpoint(endpoint.tenantId, endpoint.id),
      entity: 'endpoint',
      ...endpoint,
      ...sealedEndpointValues.map(endpoint, (value) => this.box.seal(value)),
    };
  }

  fromItem(item: Record<string, unknown>): Endpoint {
    const stored = stripKeys<Endpoint>(item);
    return { ...stored, ...sealedEndpointValues.map(stored, (value) => this.box.open(value)) };
  }
}
