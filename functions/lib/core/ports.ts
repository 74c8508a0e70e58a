/**
 * The ports through which the core reaches the outside world. AWS adapters live in
 * functions/lib/aws, the HTTP adapter in functions/lib/http; the core imports only this file.
 */
import type {
  Action,
  ApiKey,
  Attempt,
  Delivery,
  DeliveryEvent,
  DeliveryLane,
  DeliveryStatus,
  Endpoint,
  EventType,
  KeyGrant,
  Message,
  Page,
  PageRequest,
  Tenant,
  TriggerRecord,
} from './model.ts';

export interface TenantStore {
  create(tenant: Tenant): Promise<void>;
  get(id: string): Promise<Tenant | undefined>;
  list(page: PageRequest): Promise<Page<Tenant>>;
}

export interface ApiKeyStore {
  /** Stores the key record and its hash lookup atomically; `plaintextKey` is kept sealed for reveal. */
  create(key: ApiKey, keyHash: string, plaintextKey: string): Promise<void>;
  findGrant(keyHash: string): Promise<KeyGrant | undefined>;
  get(tenantId: string, keyId: string): Promise<ApiKey | undefined>;
  reveal(tenantId: string, keyId: string): Promise<string | undefined>;
  list(tenantId: string, page: PageRequest): Promise<Page<ApiKey>>;
  /** Removes the record and its lookup together; false when there was nothing to delete. */
  delete(tenantId: string, keyId: string): Promise<boolean>;
  touch(grant: KeyGrant, at: string): Promise<void>;
}

export interface EventTypeStore {
  put(eventType: EventType): Promise<void>;
  get(tenantId: string, name: string): Promise<EventType | undefined>;
  list(tenantId: string, page: PageRequest): Promise<Page<EventType>>;
  delete(tenantId: string, name: string): Promise<boolean>;
}

export interface EndpointStore {
  create(endpoint: Endpoint): Promise<void>;
  get(tenantId: string, id: string): Promise<Endpoint | undefined>;
  list(tenantId: string, page: PageRequest): Promise<Page<Endpoint>>;
  /** Every endpoint of a tenant, for fan-out. */
  listAll(tenantId: string): Promise<readonly Endpoint[]>;
  /** Replaces the endpoint if it still exists; false when it was deleted meanwhile. */
  update(endpoint: Endpoint): Promise<boolean>;
  delete(tenantId: string, id: string): Promise<boolean>;
  /** Disables in place (no read-modify-write); true only for the call that actually disabled it. */
  disable(tenantId: string, id: string, reason: string, at: string): Promise<boolean>;
  /** Counts a failed attempt; returns when the current run of failures began. */
  recordFailure(tenantId: string, id: string, at: string): Promise<string | undefined>;
  /** Ends a run of failures. */
  recordSuccess(tenantId: string, id: string): Promise<void>;
}

export interface IdempotencyClaim {
  /** Hash of the client's key, scoped to the tenant by the store. */
  readonly keyHash: string;
  readonly expiresAt: string;
}

export type MessageCreateResult =
  | { readonly created: true; readonly message: Message }
  | { readonly created: false; readonly message: Message };

export interface MessageListFilter {
  readonly type?: string;
}

export interface MessageStore {
  /** Stores the message; with a claim, atomically, returning the first message when the key was used. */
  create(message: Message, claim: IdempotencyClaim | undefined, now: string): Promise<MessageCreateResult>;
  get(id: string): Promise<Message | undefined>;
  list(tenantId: string, filter: MessageListFilter, page: PageRequest): Promise<Page<Message>>;
  markFannedOut(id: string, at: string): Promise<void>;
}

export interface AttemptRecord {
  readonly delivery: Delivery;
  /** The state this change was computed from: the write applies only if the ledger still holds it. */
  readonly previous: Delivery;
  readonly attempt: Attempt;
}

export interface DeliveryListFilter {
  readonly status?: DeliveryStatus;
}

export interface DeliveryStore {
  /** Creates the deliveries that do not exist yet; returns the ids it created. */
  createMany(deliveries: readonly Delivery[]): Promise<readonly string[]>;
  get(id: string): Promise<Delivery | undefined>;
  getMany(ids: readonly string[]): Promise<ReadonlyMap<string, Delivery>>;
  getWithAttempts(id: string): Promise<{ delivery: Delivery; attempts: readonly Attempt[]; events: readonly DeliveryEvent[] } | undefined>;
  /** Appends to the delivery's audit trail. */
  recordEvent(event: DeliveryEvent): Promise<void>;
  /**
   * Marks an open (or dead) delivery acknowledged and records the ack, in one transaction.
   * 'already' when it was acknowledged before (nothing is written).
   */
  acknowledge(delivery: Delivery, event: DeliveryEvent): Promise<'acknowledged' | 'already'>;
  /** Open deliveries of an endpoint (pending or failed), newest first; the cursor is keyset-based. */
  listOpenByEndpoint(endpointId: string, page: PageRequest): Promise<Page<Delivery>>;
  listByMessage(messageId: string, page: PageRequest): Promise<Page<Delivery>>;
  listByEndpoint(endpointId: string, filter: DeliveryListFilter, page: PageRequest): Promise<Page<Delivery>>;
  /**
   * Writes an attempt and the delivery's new state in one conditional transaction. Returns false,
   * writing nothing, if another worker already recorded this attempt number.
   */
  recordAttempt(record: AttemptRecord): Promise<boolean>;
  /** Conditional state change without an attempt (e.g. endpoint deleted); false if the state moved on. */
  update(delivery: Delivery, previous: Delivery): Promise<boolean>;
  /** Deliveries of a tenant in one status, newest first (dead letters, inbox). */
  listByTenant(tenantId: string, status: DeliveryStatus, page: PageRequest): Promise<Page<Delivery>>;
  /** Every delivery of an endpoint in the given statuses (for recover and resume), newest first. */
  listAllByEndpoint(endpointId: string, statuses: readonly DeliveryStatus[], sinceId?: string): Promise<readonly Delivery[]>;
}

/** Where a delivery job goes; everything the worker needs to find its ledger items. */
export interface DeliveryJob {
  readonly deliveryId: string;
  readonly tenantId: string;
  readonly messageId: string;
  readonly endpointId: string;
  readonly trigger?: 'scheduled' | 'manual';
}

export interface EnqueueOptions {
  /** Capped at SQS's 900 by the caller. */
  readonly delaySeconds?: number;
  readonly lane?: DeliveryLane;
}

export interface DeliveryQueue {
  /** Batched: ten jobs a call. */
  enqueue(jobs: readonly DeliveryJob[], options?: EnqueueOptions): Promise<void>;
}

/** Per-endpoint rate limit shared by every worker (a counter per second in the ledger). */
export interface RateLimiter {
  /** True if one more delivery fits in this second's budget (and counts it). */
  tryAcquire(endpointId: string, limitPerSecond: number, now: Date): Promise<boolean>;
}

/** Emits events Sluice itself produces (`endpoint.disabled`, `sluice.ping`). */
export interface SystemEventPublisher {
  publish(tenantId: string, type: string, payload: Record<string, unknown>): Promise<Message>;
}

export interface DueItem {
  readonly kind: 'delivery' | 'message';
  readonly id: string;
}

/** The ledger's list of work whose next step is overdue (the sweeper's view). */
export interface DueWorkIndex {
  overdue(before: string, limit: number): Promise<readonly DueItem[]>;
  /** Moves an item's place in the index (not its schedule) so one sweep does not repeat it at once. */
  postpone(item: DueItem, until: string): Promise<void>;
}

export interface FanOutJob {
  readonly messageId: string;
  readonly tenantId: string;
}

export interface FanOutQueue {
  enqueue(job: FanOutJob): Promise<void>;
}

/** Parked work that needs a human: the SQS dead-letter queues. */
export interface DeadLetterSink {
  park(body: string, reason: string): Promise<void>;
}

export interface HttpRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly timeoutMs: number;
}

export interface HttpResult {
  readonly durationMs: number;
  readonly statusCode?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** First 4 KiB of the body. */
  readonly responseBody?: string;
  /** Set when no HTTP status was obtained: timeout, refused, reset, DNS, blocked address. */
  readonly error?: { readonly code: string; readonly message: string };
}

export interface HttpSender {
  send(request: HttpRequest): Promise<HttpResult>;
}

export interface SchemaIssue {
  readonly path: string;
  readonly message: string;
}

export interface PayloadSchemaValidator {
  /** Returns the problems with the schema itself (empty when it compiles). */
  checkSchema(schema: Record<string, unknown>): readonly SchemaIssue[];
  /** Validates data; `cacheKey` identifies this version of the schema for the compile cache. */
  validate(cacheKey: string, schema: Record<string, unknown>, data: unknown): readonly SchemaIssue[];
}

export interface DestinationGuard {
  /** Throws ForbiddenDestinationError when the URL's scheme or any resolved address is refused. */
  check(url: string): Promise<void>;
}

/** Everything a batch of delivery jobs needs, read in one round trip by the adapter. */
export interface DeliveryContext {
  delivery(id: string): Delivery | undefined;
  endpoint(tenantId: string, id: string): Endpoint | undefined;
  message(id: string): Message | undefined;
}

export interface DeliveryContextLoader {
  load(jobs: readonly DeliveryJob[]): Promise<DeliveryContext>;
}

export interface ActionStore {
  /** Fails with ConflictError when the tenant already maps this `eventId`. */
  create(action: Action): Promise<void>;
  get(tenantId: string, id: string): Promise<Action | undefined>;
  findByEventId(tenantId: string, eventId: string): Promise<Action | undefined>;
  list(tenantId: string, page: PageRequest): Promise<Page<Action>>;
  delete(tenantId: string, id: string): Promise<boolean>;
  recordTrigger(trigger: TriggerRecord): Promise<void>;
  listTriggers(actionId: string, page: PageRequest): Promise<Page<TriggerRecord>>;
}
