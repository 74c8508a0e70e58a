/**
 * The ports through which the core reaches the outside world. AWS adapters live in
 * functions/lib/aws, the HTTP adapter in functions/lib/http; the core imports only this file.
 */

import type { CreatedWindow } from './created-window.ts';
import type { DeliveryJob, QueueTask } from './jobs.ts';
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
  ReplayTask,
  Tenant,
  TriggerRecord,
} from './model.ts';

export interface TenantStore {
  create(tenant: Tenant): Promise<void>;
  get(id: string): Promise<Tenant | undefined>;
  list(page: PageRequest): Promise<Page<Tenant>>;
  /** Replaces the tenant if it exists; false when it does not. */
  update(tenant: Tenant): Promise<boolean>;
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
  /** Ends a run of failures; true for the one call that ended it (false when there was none). */
  recordSuccess(tenantId: string, id: string): Promise<boolean>;
  /**
   * Claims the right to announce a run of failures (`message.attempt.failing`): true when the
   * endpoint's last announcement is older than `notBefore` (or there was none), recording `at`.
   */
  claimFailingNotice(tenantId: string, id: string, at: string, notBefore: string): Promise<boolean>;
}

export interface IdempotencyClaim {
  /** Hash of the client's key (base64url SHA-256); the window is the core's, counted from the message's creation. */
  readonly keyHash: string;
}

export type MessageCreateResult =
  | { readonly created: true }
  /** Nothing was written: the message's slot holds `existing` (the first post of its key, or rarely another). */
  | { readonly created: false; readonly existing: StoredMessage };

/** A message as stored, with the hash of its idempotency key when it was posted with one. */
export interface StoredMessage extends Message {
  readonly idempotencyKeyHash?: string;
  /**
   * On the message holding a key's slot: the newest message posted with the key after this one's
   * window ended. A repeat within that message's window is answered with it.
   */
  readonly keyReuse?: KeyReuse;
}

/** A later message that holds an idempotency key; the slot holder points at it. */
export interface KeyReuse {
  readonly messageId: string;
  readonly createdAt: string;
  /** When its window ends: the slot holder is kept in the ledger at least until then. */
  readonly windowEndsAt: string;
}

export interface MessageListFilter extends CreatedWindow {
  readonly type?: string;
}

export interface MessageStore {
  /**
   * Stores the message with one conditional write, and with it the idempotency claim when there
   * is one. When the message's slot is taken, writes nothing and returns what holds it.
   */
  create(message: Message, claim: IdempotencyClaim | undefined): Promise<MessageCreateResult>;
  /**
   * Points the key's slot holder at a later message that reuses the key, if it still points where
   * `previous` says (the first of two concurrent reuses wins); false otherwise.
   */
  reuseKey(holder: StoredMessage, reuse: KeyReuse, previous: KeyReuse | undefined): Promise<boolean>;
  get(id: string): Promise<Message | undefined>;
  list(tenantId: string, filter: MessageListFilter, page: PageRequest): Promise<Page<Message>>;
  /**
   * Cancels a scheduled message unless its first attempts have begun (`release`), taking it out of
   * the sweeper's indexes: `released` when they have, `already` when it was cancelled before.
   */
  cancel(message: Message, at: string): Promise<'cancelled' | 'released' | 'already'>;
  /**
   * A scheduled message's first attempts begin: marks it so it can no longer be cancelled, unless
   * it was cancelled first (false). Any number of jobs of the message may call it.
   */
  release(messageId: string, at: string): Promise<boolean>;
}

export interface AttemptRecord {
  readonly delivery: Delivery;
  /** The state this change was computed from: the write applies only if the ledger still holds it. */
  readonly previous: Delivery;
  readonly attempt: Attempt;
}

export interface DeliveryListFilter extends CreatedWindow {
  readonly status?: DeliveryStatus;
}

/** A delivery as an endpoint's history index knows it: enough to count it, not to show it. */
export interface DeliveryStatusEntry {
  readonly id: string;
  readonly status: DeliveryStatus;
}

export interface DeliveryStore {
  /**
   * The first attempt of a full-mode delivery succeeded. Succeeded is final (the receiver has the
   * message whatever else was recorded), so this write needs no condition and may be batched with
   * others; it replaces anything a concurrent copy of the job wrote.
   */
  settleFirstAttempt(delivery: Delivery, attempt: Attempt): Promise<void>;
  /** Any other first attempt: written only if the delivery is not in the ledger yet; false if it is. */
  recordFirstAttempt(delivery: Delivery, attempt: Attempt): Promise<boolean>;
  /** A delivery with no attempt yet (paused, moved to the retry lane, closed); false if it exists. */
  create(delivery: Delivery): Promise<boolean>;
  get(id: string): Promise<Delivery | undefined>;
  getMany(ids: readonly string[]): Promise<ReadonlyMap<string, Delivery>>;
  /** Which of these deliveries are in the ledger (eventually consistent: for checks made minutes later). */
  existing(ids: readonly string[]): Promise<ReadonlySet<string>>;
  getWithAttempts(id: string): Promise<{ delivery: Delivery; attempts: readonly Attempt[]; events: readonly DeliveryEvent[] } | undefined>;
  /** Appends to the delivery's audit trail. */
  recordEvent(event: DeliveryEvent): Promise<void>;
  /**
   * Marks an open (or dead) delivery acknowledged and records the ack, in one transaction.
   * 'already' when it was acknowledged before (nothing is written).
   */
  acknowledge(delivery: Delivery, event: DeliveryEvent): Promise<'acknowledged' | 'already'>;
  /** Open deliveries of an endpoint (pending or failed), newest first; the cursor is keyset-based. */
  listOpenByEndpoint(endpointId: string, window: CreatedWindow, page: PageRequest): Promise<Page<Delivery>>;
  listByEndpoint(endpointId: string, filter: DeliveryListFilter, page: PageRequest): Promise<Page<Delivery>>;
  /**
   * The id and status of an endpoint's deliveries in the window, newest first, at most `limit`,
   * from the endpoint's history index alone (no delivery item is read). Deliveries not yet in the
   * ledger (first attempt still under way) are not there.
   */
  statusesByEndpoint(endpointId: string, window: CreatedWindow, limit: number): Promise<readonly DeliveryStatusEntry[]>;
  /** The first attempt's duration of each of these deliveries that has one (eventually consistent). */
  firstAttemptDurations(ids: readonly string[]): Promise<ReadonlyMap<string, number>>;
  /**
   * Writes an attempt of a delivery already in the ledger and its new state, conditionally on the
   * state it was computed from. Returns false, writing nothing, if the ledger moved on (another
   * worker recorded this attempt number).
   */
  recordAttempt(record: AttemptRecord): Promise<boolean>;
  /** Conditional state change without an attempt (e.g. endpoint deleted); false if the state moved on. */
  update(delivery: Delivery, previous: Delivery): Promise<boolean>;
  /** The tenant's dead deliveries (dead letters), newest first. */
  listDead(tenantId: string, window: CreatedWindow, page: PageRequest): Promise<Page<Delivery>>;
  /** Every delivery of an endpoint in the given open or dead statuses (for recover and resume), newest first. */
  listAllByEndpoint(endpointId: string, statuses: readonly DeliveryStatus[], sinceId?: string): Promise<readonly Delivery[]>;
  /**
   * A replay's next page: the endpoint's deliveries in `statuses` (every status: `all`) with ids
   * in the range, oldest first, at most `limit`, id and status only (from the indexes).
   */
  replayPage(
    endpointId: string,
    statuses: readonly DeliveryStatus[] | 'all',
    range: ReplayRange,
    limit: number,
  ): Promise<readonly DeliveryStatusEntry[]>;
  /**
   * Claims the one replay attempt a delivery may have in its current state: true only if the
   * ledger still holds `delivery`'s status and attempt count and no replay claimed it at that
   * count. A new attempt (by whatever path) lets a later replay claim it again.
   */
  claimReplay(delivery: Delivery, taskId: string): Promise<boolean>;
}

/** Ids from `from` (inclusive) or after `after` (exclusive, when set), up to `to` (inclusive). */
export interface ReplayRange {
  readonly from: string;
  readonly after?: string;
  readonly to: string;
}

export interface ReplayTaskStore {
  /** Read consistently: a step must see the step number the last one saved. */
  get(tenantId: string, taskId: string): Promise<ReplayTask | undefined>;
  /** The endpoint's replay lock: the newest replay task's id, and the task unless it expired from history. */
  current(tenantId: string, endpointId: string): Promise<{ readonly taskId: string; readonly task?: ReplayTask } | undefined>;
  /**
   * Stores a new task and points the endpoint's replay lock at it, in one transaction, if the lock
   * still names `lockedBy` (undefined: there is no lock yet). `abandoned`, when given, is the
   * task the lock named, marked failed: written in the same transaction if it is still at its step.
   * False, writing nothing, when another start got there first.
   */
  start(task: ReplayTask, lockedBy: string | undefined, abandoned?: ReplayTask): Promise<boolean>;
  /** Saves a task's progress if it is still at step `fromStep`; false (nothing written) otherwise. */
  save(task: ReplayTask, fromStep: number): Promise<boolean>;
}

export interface EnqueueOptions {
  /** Capped at SQS's 900 by the caller. */
  readonly delaySeconds?: number;
  /** A delay per task, in order (a paced page of a replay); replaces `delaySeconds`. */
  readonly delaysSeconds?: readonly number[];
  readonly lane?: DeliveryLane;
}

/** The delivery lanes. Every task carries its tenant as the SQS message group (fair queues). */
export interface DeliveryQueue {
  /** Batched: ten tasks a call, fewer when their bodies are large. */
  enqueue(tasks: readonly QueueTask[], options?: EnqueueOptions): Promise<void>;
}

/** Per-endpoint rate limit shared by every worker (a counter per second in the ledger). */
/** What a per-second budget is kept for: deliveries to an endpoint, or triggers by an inbound key. */
export type RateSubject = { readonly endpointId: string } | { readonly hookKeyId: string };

export interface RateLimiter {
  /** True if one more use fits in this second's budget of the subject (and counts it). */
  tryAcquire(subject: RateSubject, limitPerSecond: number, now: Date): Promise<boolean>;
}

/** Emits events Sluice itself produces (`endpoint.disabled`, `sluice.ping`). */
export interface SystemEventOptions {
  /** Only endpoints that name the type, and nothing stored without one (for an opt-in type, always so). */
  readonly explicitOnly?: boolean;
  /** An endpoint that does not get the event: the one whose own change it announces. */
  readonly exceptEndpointId?: string;
  /** The same key stores one message, however often the event is published (a queue's redelivery). */
  readonly idempotencyKey?: string;
}

export interface SystemEventPublisher {
  /** Stores the event for its subscribers; an opt-in event nobody subscribes to is not stored (undefined). */
  publish(tenantId: string, type: string, payload: Record<string, unknown>, options?: SystemEventOptions): Promise<Message | undefined>;
}

/** A delivery in the sweeper's due index. */
export interface DueItem {
  readonly id: string;
}

/** The ledger's list of deliveries whose next attempt is overdue (the sweeper's view). */
export interface DueWorkIndex {
  overdue(before: string, limit: number): Promise<readonly DueItem[]>;
  /** Moves an item's place in the index (not its schedule) so one sweep does not repeat it at once. */
  postpone(item: DueItem, until: string): Promise<void>;
}

/** A dispatched message as the sweeper sees it: enough to check that its jobs ran. */
export interface DispatchedMessage {
  readonly messageId: string;
  readonly tenantId: string;
  readonly endpointIds: readonly string[];
  /** Where the message sits in the dispatch order; the sweeper's bookmark. */
  readonly position: string;
  /** When its first attempts were due: when it was accepted, or its `deliverAt`. */
  readonly dispatchAt: Date;
}

/** Every message dispatched to endpoints, in the order they were created: the sweeper reads each one once. */
export interface DispatchedMessages {
  /** Messages after `position` (all when undefined) created before `before`, oldest first, at most `limit`. */
  after(position: string | undefined, before: string, limit: number): Promise<readonly DispatchedMessage[]>;
  /** The sweeper's bookmark: how far it has checked; undefined before its first run. */
  checkedUpTo(): Promise<string | undefined>;
  /** Moves the bookmark; false when a concurrent sweep moved it first (this one's work is then redundant). */
  markCheckedUpTo(position: string, previous: string | undefined): Promise<boolean>;
  /** The position of messages created at `at`: where a first sweep starts. */
  positionAt(at: string): string;
  /**
   * Scheduled messages still waiting for their time in the ledger (too far ahead for the queue's
   * delay when accepted) that are due before `before`, soonest first: their ids.
   */
  scheduledBefore(before: string, limit: number): Promise<readonly string[]>;
  /**
   * Moves a waiting scheduled message among the dispatched ones (the sweeper then queues its jobs):
   * false when another sweep moved it first, or it was cancelled.
   */
  handOver(messageId: string): Promise<boolean>;
}

/** A budget's answer: go ahead, or how long until there is room. */
export type Allowance = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

/** A per-tenant ingest allowance: what keeps one tenant's flood from crowding out the others. */
export interface IngestBudget {
  /** Takes one message's worth at the tenant's rate; when none is left, says how long until there is. */
  take(tenantId: string, perSecond: number): Allowance;
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

/** What a batch of delivery jobs reads from the ledger, in one round trip. */
export interface LedgerSnapshot {
  delivery(id: string): Delivery | undefined;
  endpoint(tenantId: string, id: string): Endpoint | undefined;
  message(id: string): Message | undefined;
}

export interface DeliveryContextLoader {
  /** Consistent reads of the jobs' deliveries, endpoints and messages, and of `messageIds`. */
  load(jobs: readonly DeliveryJob[], messageIds: readonly string[]): Promise<LedgerSnapshot>;
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
