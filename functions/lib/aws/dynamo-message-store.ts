import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, AttributeValue as StreamAttributeValue } from 'aws-lambda';
import { publicMessage } from '../core/messages.ts';
import type { Message, Page, PageRequest } from '../core/model.ts';
import type { IdempotencyClaim, KeyReuse, MessageCreateResult, MessageListFilter, MessageStore, StoredMessage } from '../core/ports.ts';
import { keys } from './ledger-keys.ts';
import { expiresAtFor, idRangeOf, isConditionFailure, type LedgerTable, partition, queryPageOfItems } from './ledger-table.ts';

/** Payloads shorter than this are stored as text: compressing them saves no write unit. */
const COMPRESS_FROM_BYTES = 256;

/**
 * The message item, as small as it can be: a write unit buys 1 KB, so the payload is stored
 * compressed (raw DEFLATE) when that is shorter, and nothing is stored twice.
 */
interface MessageItem {
  readonly pk: string;
  readonly sk: string;
  readonly id: string;
  readonly tenantId: string;
  readonly type: string;
  readonly createdAt: string;
  /** The payload as posted, either as text or DEFLATE-compressed. */
  readonly payload?: string;
  readonly payloadDeflated?: Uint8Array;
  readonly keyHash?: string;
  /** On a key's slot holder: the later message that holds the key now. */
  readonly keyReuse?: KeyReuse;
  readonly endpointIds?: readonly string[];
  /** Attempted where it was published: the stream's dispatch filter leaves it alone. */
  readonly inline?: boolean;
  readonly gsi1pk: string;
  readonly gsi5pk?: string;
  readonly gsi5sk?: string;
  readonly expiresAt: number;
}

export class DynamoMessageStore implements MessageStore {
  constructor(private readonly table: LedgerTable) {}

  async create(message: Message, claim: IdempotencyClaim | undefined): Promise<MessageCreateResult> {
    try {
      await this.table.client.send(
        new PutCommand({
          TableName: this.table.name,
          Item: this.toItem(message, claim),
          // The slot is the claim: a repeated key finds its first message here, in the same write.
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { created: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const old = (error as { Item?: Record<string, unknown> }).Item;
      const existing = old ? fromItem(plain(old) as unknown as MessageItem) : await this.getStored(message.id);
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
    return Item && fromItem(Item as MessageItem);
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
      (item) => this.fromItem(item),
    );
  }

  /** A message item as the core sees it (the delivery loader reads messages in its batch). */
  fromItem(item: Record<string, unknown>): Message {
    return publicMessage(fromItem(item as unknown as MessageItem));
  }

  private toItem(message: Message, claim: IdempotencyClaim | undefined): MessageItem {
    const text = message.payloadJson;
    const deflated = text.length >= COMPRESS_FROM_BYTES ? deflateRawSync(text) : undefined;
    const dispatched = message.endpointIds !== undefined && message.endpointIds.length > 0;
    return {
      ...keys.message(message.id),
      id: message.id,
      tenantId: message.tenantId,
      type: message.type,
      createdAt: message.createdAt,
      ...(deflated && deflated.length < Buffer.byteLength(text) ? { payloadDeflated: deflated } : { payload: text }),
      ...(claim && { keyHash: claim.keyHash }),
      ...(dispatched && { endpointIds: message.endpointIds, gsi5pk: keys.dispatchShard(message.id), gsi5sk: message.id }),
      ...(message.attemptedInline && { inline: true }),
      gsi1pk: keys.messagesOfTenant(message.tenantId),
      expiresAt: expiresAtFor(this.table, message.createdAt),
    };
  }
}

/**
 * New message items from the ledger's stream, as Lambda delivers them (binary values arrive
 * base64-encoded in the event's JSON). Anything else in the batch is ignored.
 */
export function newMessagesOf(records: readonly DynamoDBRecord[]): Message[] {
  return records.flatMap((record) => {
    const image = record.dynamodb?.NewImage;
    if (record.eventName !== 'INSERT' || !image || image.sk?.S !== 'MSG') return [];
    return [publicMessage(fromItem(unmarshall(fromStreamImage(image)) as MessageItem))];
  });
}

function fromStreamValue(value: StreamAttributeValue): AttributeValue {
  if (value.B !== undefined) return { B: Buffer.from(value.B, 'base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b, 'base64')) };
  if (value.L !== undefined) return { L: value.L.map(fromStreamValue) };
  if (value.M !== undefined) return { M: fromStreamImage(value.M) };
  return value as AttributeValue;
}

function fromStreamImage(image: Record<string, StreamAttributeValue>): Record<string, AttributeValue> {
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, fromStreamValue(value)]));
}

/** The SDK may hand a refused write's old item over in wire format, even through the document client. */
function plain(item: Record<string, unknown>): Record<string, unknown> {
  const pk = item.pk as { S?: unknown } | string | undefined;
  return typeof pk === 'object' && pk !== null && 'S' in pk ? unmarshall(item as Record<string, AttributeValue>) : item;
}

function fromItem(item: MessageItem): StoredMessage {
  const payloadJson = item.payloadDeflated ? inflateRawSync(item.payloadDeflated).toString('utf8') : (item.payload ?? '{}');
  return {
    id: item.id,
    tenantId: item.tenantId,
    type: item.type,
    payloadJson,
    createdAt: item.createdAt,
    ...(item.endpointIds && { endpointIds: item.endpointIds }),
    ...(item.inline && { attemptedInline: true }),
    ...(item.keyHash && { idempotencyKeyHash: item.keyHash }),
    ...(item.keyReuse && { keyReuse: item.keyReuse }),
  };
}
