import { createHash } from 'node:crypto';
import { addSeconds, type Clock } from './clock.ts';
import { checkCreatedWindow } from './created-window.ts';
import { isRoutedTo } from './dispatch.ts';
import type { EndpointDirectory } from './endpoint-directory.ts';
import {
  ConflictError,
  IdempotencyKeyReusedError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  SchemaMismatchError,
  UnknownEventTypeError,
} from './errors.ts';
import type { EventTypeCatalog } from './event-types.ts';
import type { FilterSubject } from './filters.ts';
import { type IdGenerator, idempotentMessageId } from './ids.ts';
import type { TenantIngestBudgets } from './ingest-budget.ts';
import type { Endpoint, JsonDocument, Message, Page, PageRequest } from './model.ts';
import { isOptInEventType } from './operational-events.ts';
import type { KeyReuse, MessageListFilter, MessageStore, PayloadSchemaValidator, StoredMessage, SystemEventOptions } from './ports.ts';
import { checkDeliverAt, isScheduled, messageStatus } from './schedule.ts';

export const MAX_PAYLOAD_BYTES = 256 * 1024;
export const IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600;
/** Tries against concurrent posts of one key (or, without a key, colliding ids) before giving up. */
const MAX_KEY_ROUNDS = 4;

export interface MessageLogDeps {
  readonly messages: MessageStore;
  readonly endpoints: EndpointDirectory;
  readonly clock: Clock;
  readonly ids: IdGenerator;
}

export interface MessageDeps extends MessageLogDeps {
  readonly eventTypes: EventTypeCatalog;
  readonly validator: PayloadSchemaValidator;
  /** Absent: no per-tenant ingest limit. */
  readonly budget?: TenantIngestBudgets;
}

export interface IngestResult {
  readonly message: Message;
  /** False when an earlier request with the same idempotency key already created it. */
  readonly created: boolean;
}

export interface PublishRequest {
  readonly tenantId: string;
  readonly type: string;
  readonly payloadJson: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly endpoints: readonly Endpoint[];
  readonly idempotencyKey?: string;
  /** The caller makes the first attempts itself (the endpoint test); dispatch leaves the message alone. */
  readonly attemptedInline?: boolean;
  /** Fan out at this time rather than now (ISO 8601, checked by `checkDeliverAt`). */
  readonly deliverAt?: string;
}

/** What `POST /v1/messages` may add to a type and a payload. */
export interface IngestOptions {
  readonly idempotencyKey?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  /** Fan out at this time (from now up to 7 days ahead) rather than now. */
  readonly deliverAt?: Date;
}

/**
 * What a repeat of a post must match to be a replay: its type, its payload text, and its metadata
 * and `deliverAt` when it has them.
 */
export function requestFingerprint(
  type: string,
  payloadJson: string,
  metadata?: Readonly<Record<string, string>>,
  deliverAt?: string,
): string {
  const hash = createHash('sha256').update(type).update('\n').update(payloadJson);
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    hash.update('\n').update(JSON.stringify(Object.entries(metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  }
  if (deliverAt !== undefined) hash.update('\ndeliverAt ').update(deliverAt);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * The first message for a key, answered to a repeat of the same request. A different request
 * with the same key is refused (as Stripe does): answering with the first message would silently
 * drop the new event.
 */
function replay(first: Message, request: PublishRequest): IngestResult {
  const original = requestFingerprint(first.type, first.payloadJson, first.metadata, first.deliverAt);
  if (original !== requestFingerprint(request.type, request.payloadJson, request.metadata, request.deliverAt)) {
    throw new IdempotencyKeyReusedError(
      `this Idempotency-Key was used for a different request (message ${first.id}, ${first.createdAt}); use a new key for a new message`,
      [{ path: 'idempotency-key', message: `first used for a request with fingerprint ${original}` }],
    );
  }
  return { message: publicMessage(first), created: false };
}

/**
 * A tenant's messages: storing them (with their idempotency key) and reading them back. What the
 * hook service, the endpoint test and the delivery's system events need, without ingest's payload
 * validation, so the functions that only publish or read carry no JSON Schema validator.
 */
export class MessageLog {
  constructor(protected readonly deps: MessageLogDeps) {}

  /**
   * Stores a message for the given endpoints: one conditional write, which with an idempotency
   * key also claims the key (a repeat within the window finds the first message in the key's
   * slot and stores nothing). Storing is accepting: dispatch reads the new item from the ledger's
   * stream.
   */
  async publish(request: PublishRequest): Promise<IngestResult> {
    const now = this.deps.clock.now();
    const message = (id: string, createdAt = now.toISOString()): Message => ({
      id,
      tenantId: request.tenantId,
      type: request.type,
      payloadJson: request.payloadJson,
      ...(request.metadata !== undefined && Object.keys(request.metadata).length > 0 && { metadata: request.metadata }),
      createdAt,
      ...(request.deliverAt !== undefined && { deliverAt: request.deliverAt }),
      ...(request.endpoints.length > 0 && { endpointIds: request.endpoints.map((endpoint) => endpoint.id) }),
      ...(request.attemptedInline && { attemptedInline: true }),
    });
    if (request.idempotencyKey === undefined) return this.createFresh(message, now);
    const keyHash = createHash('sha256').update(request.idempotencyKey).digest('base64url');
    for (let round = 0; round < MAX_KEY_ROUNDS; round++) {
      const first = message(idempotentMessageId(request.tenantId, keyHash, now));
      const stored = await this.deps.messages.create(first, { keyHash });
      if (stored.created) return { message: first, created: true };
      const holder = stored.existing;
      // Another message in the key's slot (an 80-bit collision with a random id): the key cannot be kept.
      if (holder.tenantId !== request.tenantId || holder.idempotencyKeyHash !== keyHash) return this.createFresh(message, now);
      if (this.withinWindow(holder.createdAt, now)) return replay(holder, request);
      const reuse = holder.keyReuse;
      if (reuse && this.withinWindow(reuse.createdAt, now)) {
        const later = await this.deps.messages.get(reuse.messageId);
        if (later) return replay(later, request);
        // The post that claimed the key stopped before storing its message: store it now.
        const recovered = message(reuse.messageId, reuse.createdAt);
        const result = await this.deps.messages.create(recovered, undefined);
        if (result.created) return { message: recovered, created: true };
        if (result.existing.id === reuse.messageId) return replay(result.existing, request);
        // The drawn id's slot is another message's (a collision): point the key at a new id.
        await this.deps.messages.reuseKey(holder, { ...reuse, messageId: this.deps.ids.next('message', new Date(reuse.createdAt)) }, reuse);
        continue;
      }
      // The key is free again: a new message, which the slot holder points at for its window.
      const id = this.deps.ids.next('message', now);
      const next: KeyReuse = {
        messageId: id,
        createdAt: now.toISOString(),
        windowEndsAt: addSeconds(now, IDEMPOTENCY_WINDOW_SECONDS).toISOString(),
      };
      if (await this.deps.messages.reuseKey(holder, next, reuse)) {
        const fresh = message(id);
        if ((await this.deps.messages.create(fresh, undefined)).created) return { message: fresh, created: true };
      }
      // A concurrent post reused the key first: look again.
    }
    throw new Error(`the idempotency key of tenant ${request.tenantId} is contended; retry the post`);
  }

  private withinWindow(createdAt: string, now: Date): boolean {
    return addSeconds(new Date(createdAt), IDEMPOTENCY_WINDOW_SECONDS).getTime() > now.getTime();
  }

  /** A message without a key, under a drawn id (drawn again in the unlikely case the id's slot is taken). */
  private async createFresh(message: (id: string) => Message, now: Date): Promise<IngestResult> {
    for (let round = 0; round < MAX_KEY_ROUNDS; round++) {
      const fresh = message(this.deps.ids.next('message', now));
      if ((await this.deps.messages.create(fresh, undefined)).created) return { message: fresh, created: true };
    }
    throw new Error('no free ledger slot for a new message');
  }

  /**
   * Events Sluice emits itself (operational events): no declared type, sent to the tenant's
   * subscribers. An opt-in event no endpoint subscribes to is not stored: it would cost a write
   * for a message nobody gets.
   */
  async publishSystemEvent(
    tenantId: string,
    type: string,
    payload: Record<string, unknown>,
    options: SystemEventOptions = {},
  ): Promise<Message | undefined> {
    // Routing already keeps catch-all endpoints away from opt-in types; `explicitOnly` does it for any type.
    const endpoints = (await this.routed(tenantId, { type, data: payload })).filter(
      (endpoint) => endpoint.id !== options.exceptEndpointId && (!options.explicitOnly || endpoint.eventTypes?.includes(type)),
    );
    if (endpoints.length === 0 && (options.explicitOnly || isOptInEventType(type))) return undefined;
    const { message } = await this.publish({
      tenantId,
      type,
      payloadJson: JSON.stringify(payload),
      endpoints,
      ...(options.idempotencyKey !== undefined && { idempotencyKey: options.idempotencyKey }),
    });
    return message;
  }

  /** Routing: the tenant's endpoints subscribed to the type whose filter holds, from a copy at most the cache's age. */
  protected async routed(tenantId: string, subject: FilterSubject): Promise<Endpoint[]> {
    return (await this.deps.endpoints.all(tenantId)).filter((endpoint) => isRoutedTo(endpoint, subject));
  }

  /** The log's time: a scheduled message's status depends on it. */
  now(): Date {
    return this.deps.clock.now();
  }

  async get(tenantId: string, id: string): Promise<Message> {
    const message = await this.deps.messages.get(id);
    if (!message || message.tenantId !== tenantId) throw new NotFoundError('message', id);
    return message;
  }

  list(tenantId: string, filter: MessageListFilter, page: PageRequest): Promise<Page<Message>> {
    checkCreatedWindow(filter);
    return this.deps.messages.list(tenantId, filter, page);
  }

  /**
   * Cancels a scheduled message before its time: it will never fan out. Cancelling it again
   * answers the same; a message that was not scheduled, or whose time has come, is a conflict.
   */
  async cancel(tenantId: string, id: string): Promise<Message> {
    const message = await this.get(tenantId, id);
    if (message.cancelledAt !== undefined) return message;
    if (!isScheduled(message))
      throw new ConflictError(`message ${id} was not scheduled (no deliverAt): it fanned out when it was accepted`);
    const now = this.deps.clock.now();
    const tooLate = () =>
      new ConflictError(`message ${id} was due at ${message.deliverAt} and has fanned out; it can no longer be cancelled`);
    if (messageStatus(message, now) !== 'scheduled') throw tooLate();
    const cancelledAt = now.toISOString();
    switch (await this.deps.messages.cancel(message, cancelledAt)) {
      case 'cancelled':
        return { ...message, cancelledAt };
      case 'released':
        throw tooLate();
      case 'already':
        return this.get(tenantId, id);
    }
  }
}

/** `POST /v1/messages`: the message log, with the tenant's ingest budget and each type's payload schema enforced. */
export class MessageService extends MessageLog {
  constructor(protected override readonly deps: MessageDeps) {
    super(deps);
  }

  /** `POST /v1/messages`: validated against the type's schema, stored once, dispatched to its subscribers. */
  async ingest(tenantId: string, type: string, payload: JsonDocument, options: IngestOptions = {}): Promise<IngestResult> {
    const { idempotencyKey, metadata, deliverAt } = options;
    if (deliverAt !== undefined) checkDeliverAt(deliverAt, this.deps.clock.now());
    const allowance = await this.deps.budget?.take(tenantId);
    if (allowance && !allowance.ok) {
      const seconds = Math.max(1, Math.ceil(allowance.retryAfterSeconds));
      throw new RateLimitedError(`this tenant is over its ingest budget; retry in ${seconds} s`, seconds);
    }
    const payloadJson = payload.text;
    const bytes = Buffer.byteLength(payloadJson, 'utf8');
    if (bytes > MAX_PAYLOAD_BYTES) {
      throw new PayloadTooLargeError(`payload is ${bytes} bytes; the limit is ${MAX_PAYLOAD_BYTES} bytes (256 KiB)`);
    }
    const eventType = await this.deps.eventTypes.find(tenantId, type);
    if (!eventType) throw new UnknownEventTypeError(type);
    if (eventType.schema) {
      const issues = this.deps.validator.validate(`${tenantId}/${type}@${eventType.updatedAt}`, eventType.schema, payload.value);
      if (issues.length > 0) {
        throw new SchemaMismatchError(`payload does not match the schema of '${type}'`, issues);
      }
    }
    const endpoints = await this.routed(tenantId, { type, data: payload.value, ...(metadata && { metadata }) });
    return this.publish({
      tenantId,
      type,
      payloadJson,
      endpoints,
      ...(metadata !== undefined && { metadata }),
      ...(idempotencyKey !== undefined && { idempotencyKey }),
      ...(deliverAt !== undefined && { deliverAt: deliverAt.toISOString() }),
    });
  }
}

/** A stored message as the API and the workers see it: without its idempotency bookkeeping. */
export function publicMessage(stored: StoredMessage): Message {
  const { idempotencyKeyHash: _hash, keyReuse: _reuse, ...message } = stored;
  return message;
}
