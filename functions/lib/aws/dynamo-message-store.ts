import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { publicMessage } from '../core/messages.ts';
import type { Message, Page, PageRequest } from '../core/model.ts';
import type { IdempotencyClaim, KeyReuse, MessageCreateResult, MessageListFilter, MessageStore, StoredMessage } from '../core/ports.ts';
import { messageItem, messageOf, storedMessageOf } from './ledger-items.ts';
import { keys } from './ledger-keys.ts';
import { expiresAtFor, idRangeOf, isConditionFailure, type LedgerTable, partition, queryPageOfItems } from './ledger-table.ts';

export class DynamoMessageStore implements MessageStore {
  constructor(private readonly table: LedgerTable) {}

  async create(message: Message, claim: IdempotencyClaim | undefined): Promise<MessageCreateResult> {
    try {
      await this.table.client.send(
        new PutCommand({
          TableName: this.table.name,
          Item: messageItem(this.table, message, claim),
          // The slot is the claim: a repeated key finds its first message here, in the same write.
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { created: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const old = (error as { Item?: Record<string, unknown> }).Item;
      const existing = old ? storedMessageOf(plain(old)) : await this.getStored(message.id);
      if (!existing) throw error;
      return { created: false, existing };
    }
  }

  async reuseKey(holder: StoredMessage, reuse: KeyReuse, previous: KeyReuse | undefined): Promise<boolean> {
    // The holder stays in the ledger while the pointer is needed: until the new message's window ends.
    const expiresAt = Math.max(expiresAtFor(this.table, holder.createdAt), Math.ceil(Date.parse(reuse.windowEndsAt) / 1000));
    try {
      await this.table.client.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: keys.message(holder.id),
          UpdateExpression: 'SET keyReuse = :reuse, expiresAt = :expiresAt',
          ConditionExpression: previous
            ? 'attribute_exists(pk) AND keyReuse.messageId = :previous'
            : 'attribute_exists(pk) AND attribute_not_exists(keyReuse)',
          ExpressionAttributeValues: { ':reuse': reuse, ':expiresAt': expiresAt, ...(previous && { ':previous': previous.messageId }) },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async get(id: string): Promise<Message | undefined> {
    const stored = await this.getStored(id);
    return stored?.id === id ? publicMessage(stored) : undefined;
  }

  private async getStored(id: string): Promise<StoredMessage | undefined> {
    const { Item } = await this.table.client.send(
      new GetCommand({ TableName: this.table.name, Key: keys.message(id), ConsistentRead: true }),
    );
    return Item && storedMessageOf(Item);
  }

  async cancel(message: Message, at: string): Promise<'cancelled' | 'released' | 'already'> {
    try {
      await this.table.client.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: keys.message(message.id),
          // Out of the sweeper's indexes: nothing will look for its deliveries or queue it.
          UpdateExpression: 'SET cancelledAt = :at REMOVE gsi5pk, gsi5sk',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(releasedAt) AND attribute_not_exists(cancelledAt)',
          ExpressionAttributeValues: { ':at': at },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'cancelled';
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const old = (error as { Item?: Record<string, unknown> }).Item;
      const item = old ? plain(old) : undefined;
      return item?.cancelledAt !== undefined ? 'already' : 'released';
    }
  }

  async release(messageId: string, at: string): Promise<boolean> {
    try {
      await this.table.client.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: keys.message(messageId),
          UpdateExpression: 'SET releasedAt = if_not_exists(releasedAt, :at)',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(cancelledAt)',
          ExpressionAttributeValues: { ':at': at },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  list(tenantId: string, filter: MessageListFilter, page: PageRequest): Promise<Page<Message>> {
    const query = partition(keys.messagesOfTenant(tenantId), 'gsi1', idRangeOf('message', filter));
    return queryPageOfItems(
      this.table,
      {
        ...query,
        ...(filter.type && {
          // The index carries `type`: the filter reads index entries only, never other types' payloads.
          FilterExpression: '#type = :type',
          ExpressionAttributeNames: { '#type': 'type' },
          ExpressionAttributeValues: { ...query.ExpressionAttributeValues, ':type': filter.type },
        }),
      },
      page,
      messageOf,
    );
  }
}

/** The SDK may hand a refused write's old item over in wire format, even through the document client. */
function plain(item: Record<string, unknown>): Record<string, unknown> {
  const pk = item.pk as { S?: unknown } | string | undefined;
  return typeof pk === 'object' && pk !== null && 'S' in pk ? unmarshall(item as Record<string, AttributeValue>) : item;
}
