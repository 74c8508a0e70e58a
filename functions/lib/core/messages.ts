import { createHash } from 'node:crypto';
import { addSeconds, type Clock } from './clock.ts';
import { NotFoundError, PayloadTooLargeError, SchemaMismatchError, UnknownEventTypeError } from './errors.ts';
import type { IdGenerator } from './ids.ts';
import type { JsonObject, Message, Page, PageRequest } from './model.ts';
import type { EventTypeStore, FanOutQueue, MessageListFilter, MessageStore, PayloadSchemaValidator } from './ports.ts';

export const MAX_PAYLOAD_BYTES = 256 * 1024;
export const IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600;

export interface MessageDeps {
  readonly messages: MessageStore;
  readonly eventTypes: EventTypeStore;
  readonly validator: PayloadSchemaValidator;
  readonly fanOut: FanOutQueue;
  readonly clock: Clock;
  readonly ids: IdGenerator;
}

export interface IngestResult {
  readonly message: Message;
  /** False when an earlier request with the same idempotency key already created it. */
  readonly created: boolean;
}

export class MessageService {
  constructor(private readonly deps: MessageDeps) {}

  async ingest(tenantId: string, type: string, payload: JsonObject, idempotencyKey?: string): Promise<IngestResult> {
    const payloadJson = JSON.stringify(payload);
    const bytes = Buffer.byteLength(payloadJson, 'utf8');
    if (bytes > MAX_PAYLOAD_BYTES) {
      throw new PayloadTooLargeError(`payload is ${bytes} bytes; the limit is ${MAX_PAYLOAD_BYTES} bytes (256 KiB)`);
    }
    const eventType = await this.deps.eventTypes.get(tenantId, type);
    if (!eventType) throw new UnknownEventTypeError(type);
    if (eventType.schema) {
      const issues = this.deps.validator.validate(`${tenantId}/${type}@${eventType.updatedAt}`, eventType.schema, payload);
      if (issues.length > 0) {
        throw new SchemaMismatchError(`payload does not match the schema of '${type}'`, issues);
      }
    }
    const now = this.deps.clock.now();
    const message: Message = {
      id: this.deps.ids.next('message'),
      tenantId,
      type,
      payloadJson,
      createdAt: now.toISOString(),
      ...(idempotencyKey !== undefined && { idempotencyKey }),
    };
    const claim = idempotencyKey
      ? {
          keyHash: createHash('sha256').update(idempotencyKey).digest('hex'),
          expiresAt: addSeconds(now, IDEMPOTENCY_WINDOW_SECONDS).toISOString(),
        }
      : undefined;
    const result = await this.deps.messages.create(message, claim, now.toISOString());
    // A replay whose original never reached the fan-out queue (the enqueue failed after the
    // write) re-enqueues it: fan-out is idempotent, so this cannot double deliveries.
    if (result.created || !result.message.fannedOutAt) {
      await this.deps.fanOut.enqueue({ messageId: result.message.id, tenantId });
    }
    return result;
  }

  /** Events Sluice emits itself (`endpoint.disabled`, `sluice.ping`): no declared type needed. */
  async publishSystemEvent(tenantId: string, type: string, payload: Record<string, unknown>): Promise<Message> {
    const now = this.deps.clock.now();
    const message: Message = {
      id: this.deps.ids.next('message'),
      tenantId,
      type,
      payloadJson: JSON.stringify(payload),
      createdAt: now.toISOString(),
    };
    await this.deps.messages.create(message, undefined, now.toISOString());
    await this.deps.fanOut.enqueue({ messageId: message.id, tenantId });
    return message;
  }

  async get(tenantId: string, id: string): Promise<Message> {
    const message = await this.deps.messages.get(id);
    if (!message || message.tenantId !== tenantId) throw new NotFoundError('message', id);
    return message;
  }

  list(tenantId: string, filter: MessageListFilter, page: PageRequest): Promise<Page<Message>> {
    return this.deps.messages.list(tenantId, filter, page);
  }
}
