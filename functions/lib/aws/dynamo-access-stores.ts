import { GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { ApiKey, KeyGrant, Page, PageRequest, Tenant } from '../core/model.ts';
import type { ApiKeyStore, TenantStore } from '../core/ports.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import {
  apiKeyItem,
  apiKeyOf,
  keyGrantItem,
  keyGrantOf,
  revealedKeyOf,
  type StoredApiKey,
  storedApiKeyOf,
  tenantItem,
  tenantOf,
} from './ledger-items.ts';
import { keys } from './ledger-keys.ts';
import {
  isConditionFailure,
  isTransactionConflict,
  type LedgerTable,
  partition,
  partitionPrefix,
  queryPage,
  queryPageOfItems,
} from './ledger-table.ts';

export class DynamoTenantStore implements TenantStore {
  constructor(private readonly table: LedgerTable) {}

  async create(tenant: Tenant): Promise<void> {
    await this.table.client.send(
      new PutCommand({
        TableName: this.table.name,
        Item: tenantItem(tenant),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async get(id: string): Promise<Tenant | undefined> {
    const { Item } = await this.table.client.send(new GetCommand({ TableName: this.table.name, Key: keys.tenant(id) }));
    return Item && tenantOf(Item);
  }

  async update(tenant: Tenant): Promise<boolean> {
    try {
      await this.table.client.send(
        new PutCommand({
          TableName: this.table.name,
          Item: tenantItem(tenant),
          ConditionExpression: 'attribute_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  list(page: PageRequest): Promise<Page<Tenant>> {
    return queryPageOfItems(this.table, partition(keys.tenantsIndex(), 'gsi1'), page, tenantOf);
  }
}

/**
 * Two items per key: the record under the tenant (for listing) and a grant under the key's hash
 * (for authentication with one strongly consistent read). They are written and removed together.
 */
export class DynamoApiKeyStore implements ApiKeyStore {
  constructor(
    private readonly table: LedgerTable,
    private readonly box: SecretBox,
  ) {}

  async create(key: ApiKey, keyHash: string, plaintextKey: string): Promise<void> {
    const grant: KeyGrant = { tenantId: key.tenantId, keyId: key.id, scopes: key.scopes, keyHash };
    await this.table.client.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: this.table.name,
              Item: apiKeyItem(key, keyHash, plaintextKey, this.box),
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Put: {
              TableName: this.table.name,
              Item: keyGrantItem(grant),
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
      }),
    );
  }

  async findGrant(keyHash: string): Promise<KeyGrant | undefined> {
    const { Item } = await this.table.client.send(
      new GetCommand({ TableName: this.table.name, Key: keys.keyGrant(keyHash), ConsistentRead: true }),
    );
    return Item && keyGrantOf(Item);
  }

  async get(tenantId: string, keyId: string): Promise<ApiKey | undefined> {
    const stored = await this.getStored(tenantId, keyId);
    return stored && apiKeyOf(stored);
  }

  async reveal(tenantId: string, keyId: string): Promise<string | undefined> {
    const stored = await this.getStored(tenantId, keyId);
    return stored && revealedKeyOf(stored, this.box);
  }

  list(tenantId: string, page: PageRequest): Promise<Page<ApiKey>> {
    return queryPage(
      this.table,
      {
        ...partitionPrefix(keys.apiKeysOfTenant(tenantId)),
      },
      page,
      (item) => apiKeyOf(storedApiKeyOf(item)),
    );
  }

  async delete(tenantId: string, keyId: string): Promise<boolean> {
    const stored = await this.getStored(tenantId, keyId);
    if (!stored) return false;
    await this.table.client.send(
      new TransactWriteCommand({
        TransactItems: [
          { Delete: { TableName: this.table.name, Key: keys.apiKey(tenantId, keyId) } },
          { Delete: { TableName: this.table.name, Key: keys.keyGrant(stored.keyHash) } },
        ],
      }),
    );
    return true;
  }

  async touch(grant: KeyGrant, at: string): Promise<void> {
    const update = (key: Record<string, string>) => ({
      Update: {
        TableName: this.table.name,
        Key: key,
        UpdateExpression: 'SET lastUsedAt = :at',
        // Never resurrect a key revoked between the read and this write.
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':at': at },
      },
    });
    try {
      await this.table.client.send(
        new TransactWriteCommand({
          TransactItems: [update(keys.keyGrant(grant.keyHash)), update(keys.apiKey(grant.tenantId, grant.keyId))],
        }),
      );
    } catch (error) {
      if (!isTransactionConflict(error) && !isConditionFailure(error)) throw error;
    }
  }

  private async getStored(tenantId: string, keyId: string): Promise<StoredApiKey | undefined> {
    const { Item } = await this.table.client.send(
      new GetCommand({ TableName: this.table.name, Key: keys.apiKey(tenantId, keyId), ConsistentRead: true }),
    );
    return Item && storedApiKeyOf(Item);
  }
}
