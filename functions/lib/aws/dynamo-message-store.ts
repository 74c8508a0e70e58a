import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Message, Page, PageRequest } from '../core/model.ts';
import type { IdempotencyClaim, MessageCreateResult, MessageListFilter, MessageStore } from '../core/ports.ts';
import { keys, stripKeys } from './ledger-keys.ts';
import { expiresAtFor, isTransactionConflict, type LedgerTable, partition, queryPage } from './ledger-table.ts';

export class DynamoMessageStore implements MessageStore {
  constructor(private readonly table: LedgerTable) {}

  async create(message: Message, claim: IdempotencyClaim | undefined, now: string): Promise<MessageCreateResult> {
    const item = this.toItem(message);
    if (!claim) {
      await this.table.client.send(
        new PutCommand({ TableName: this.table.name, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }),
      );
      return { created: true, message };
    }
    // The claim and the message are one transaction: either both exist or neither does, so a
    // retried request can never find a claim that points at nothing.
    for (let round = 0; ; round++) {
      try {
        await this.table.client.send(new TransactWriteCommand({ TransactItems: this.claimTransaction(message, claim, now, item) }));
        return { created: true, message };
      } catch (error) {
        if (!isTransactionConflict(error)) throw error;
        const [claimReason] = error.CancellationReasons ?? [];
        if (claimReason?.Code === 'ConditionalCheckFailed' && claimReason.Item) {
          // The SDK hands cancellation items over in wire format, even through the document client.
          const existingId = unmarshall(claimReason.Item as Record<string, AttributeValue>).messageId;
          const existing = typeof existingId === 'string' ? await this.get(existingId) : undefined;
          if (existing) return { created: false, message: existing };
        }
        // Concurrent transactions on the same claim (TransactionConflict): try again shortly.
        if (round >= 4) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** round));
      }
    }
  }

  private claimTransaction(message: Message, claim: IdempotencyClaim, now: string, item: Record<string, unknown>) {
    return [
      {
        Put: {
          TableName: this.table.name,
          Item: {
            ...keys.idempotency(message.tenantId, claim.keyHash),
            entity: 'idempotencyClaim',
            messageId: message.id,
            claimExpiresAt: claim.expiresAt,
            // TTL deletion lags by hours: the condition below, not TTL, enforces the window.
            expiresAt: Math.floor(Date.parse(claim.expiresAt) / 1000),
          },
          ConditionExpression: 'attribute_not_exists(pk) OR claimExpiresAt < :now',
          ExpressionAttributeValues: { ':now': now },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
        },
      },
      { Put: { TableName: this.table.name, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
    ];
  }

  async get(id: string): Promise<Message | undefined> {
    const { Item } = await this.table.client.send(
      new GetCommand({ TableName: this.table.name, Key: keys.message(id), ConsistentRead: true }),
    );
    return Item && stripKeys<Message>(Item);
  }

  list(tenantId: string, filter: MessageListFilter, page: PageRequest): Promise<Page<Message>> {
    const query = filter.type
      ? partition(keys.messagesOfType(tenantId, filter.type), 'gsi2')
      : partition(keys.messagesOfTenant(tenantId), 'gsi1');
    return queryPage(this.table, query, page, (item) => stripKeys<Message>(item));
  }

  async markFannedOut(id: string, at: string): Promise<void> {
    await this.table.client.send(
      new UpdateCommand({
        TableName: this.table.name,
        Key: keys.message(id),
        // Leaving the due index is what tells the sweeper this message needs nothing more.
        UpdateExpression: 'SET fannedOutAt = :at REMOVE gsi5pk, gsi5sk',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':at': at },
      }),
    );
  }

  private toItem(message: Message): Record<string, unknown> {
    return {
      ...keys.message(message.id),
      entity: 'message',
      gsi1pk: keys.messagesOfTenant(message.tenantId),
      gsi1sk: message.id,
      gsi2pk: keys.messagesOfType(message.tenantId, message.type),
      gsi2sk: message.id,
      // In the sweeper's index until fanned out (a ping is created fanned out, so never).
      ...(!message.fannedOutAt && { gsi5pk: keys.dueShard(message.id), gsi5sk: `${message.createdAt}#${message.id}` }),
      expiresAt: expiresAtFor(this.table, message.createdAt),
      ...message,
    };
  }
}
