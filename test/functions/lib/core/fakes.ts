/**
 * Small in-memory fakes of the core's ports, for unit tests. They follow the port contracts in
 * functions/lib/core/ports.ts (conditional writes included) and record what they were asked to do.
 */
import { createHmac } from 'node:crypto';
import { keys } from '../../../../functions/lib/aws/ledger-keys.ts';
import type { Clock } from '../../../../functions/lib/core/clock.ts';
import { type CreatedWindow, isInWindow } from '../../../../functions/lib/core/created-window.ts';
import { type AttributedReport, type DeliveryReport, DeliveryService } from '../../../../functions/lib/core/delivery.ts';
import { EndpointDirectory } from '../../../../functions/lib/core/endpoint-directory.ts';
import { ConflictError, ForbiddenDestinationError } from '../../../../functions/lib/core/errors.ts';
import { idFloor, messageSlot, timeOfId } from '../../../../functions/lib/core/ids.ts';
import type { InFlightAttempts } from '../../../../functions/lib/core/in-flight.ts';
import { type DeliveryJob, type FirstAttemptJob, isFirstAttemptJob, jobOf, type QueueTask } from '../../../../functions/lib/core/jobs.ts';
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
} from '../../../../functions/lib/core/model.ts';
import type {
  ActionStore,
  ApiKeyStore,
  AttemptRecord,
  DeadLetterSink,
  DeliveryContextLoader,
  DeliveryListFilter,
  DeliveryQueue,
  DeliveryStatusEntry,
  DeliveryStore,
  DestinationGuard,
  DispatchedMessage,
  DispatchedMessages,
  DueItem,
  DueWorkIndex,
  EndpointStore,
  EnqueueOptions,
  EventTypeStore,
  HttpRequest,
  HttpResult,
  HttpSender,
  IdempotencyClaim,
  KeyReuse,
  LedgerSnapshot,
  MessageCreateResult,
  MessageListFilter,
  MessageStore,
  RateLimiter,
  RateSubject,
  ReplayRange,
  ReplayTaskStore,
  StoredMessage,
  SystemEventOptions,
  SystemEventPublisher,
  TenantStore,
} from '../../../../functions/lib/core/ports.ts';
import { dispatchTimeOf, isScheduled, waitsForSweeper } from '../../../../functions/lib/core/schedule.ts';

export const T0 = new Date('2025-03-01T12:00:00.000Z');

/** A clock that only moves when told to. */
export class FakeClock implements Clock {
  private current: number;

  constructor(start: Date = T0) {
    this.current = start.getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  advance(ms: number): void {
    this.current += ms;
  }

  set(at: Date): void {
    this.current = at.getTime();
  }
}

/** Newest first by id (ids are sortable), with an index cursor: enough for the fakes' lists. */
/** As the real stores: the window bounds the id's time (fakes' short ids like `dlv_1` only when unbounded). */
function inWindow(id: string, window: CreatedWindow): boolean {
  return (!window.after && !window.before) || isInWindow(timeOfId(id), window);
}

function paginate<T>(items: readonly T[], idOf: (item: T) => string, page: PageRequest): Page<T> {
  const sorted = [...items].sort((a, b) => (idOf(a) < idOf(b) ? 1 : idOf(a) > idOf(b) ? -1 : 0));
  const start = page.cursor ? Number(page.cursor) : 0;
  const slice = sorted.slice(start, start + page.limit);
  const next = start + page.limit;
  return next < sorted.length ? { items: slice, nextCursor: String(next) } : { items: slice };
}

export class InMemoryDeliveryStore implements DeliveryStore {
  readonly deliveries = new Map<string, Delivery>();
  readonly attempts = new Map<string, Attempt[]>();
  readonly events = new Map<string, DeliveryEvent[]>();
  /** Every recordAttempt call, accepted or not. */
  readonly recordCalls: AttemptRecord[] = [];
  /** First attempts written without a condition (succeeded), and those written only if new. */
  readonly settleCalls: { delivery: Delivery; attempt: Attempt }[] = [];
  readonly firstCalls: { delivery: Delivery; attempt: Attempt }[] = [];
  readonly createCalls: Delivery[] = [];
  readonly updateCalls: { delivery: Delivery; previous: Delivery }[] = [];
  readonly listAllCalls: { endpointId: string; statuses: DeliveryStatus[]; sinceId: string | undefined }[] = [];

  constructor(initial: readonly Delivery[] = []) {
    for (const delivery of initial) this.deliveries.set(delivery.id, delivery);
  }

  /** Unconditional, like the batched write: replaces whatever was recorded, attempt 1 included. */
  async settleFirstAttempt(delivery: Delivery, attempt: Attempt): Promise<void> {
    this.settleCalls.push({ delivery, attempt });
    this.deliveries.set(delivery.id, delivery);
    this.attempts.set(delivery.id, [attempt, ...(this.attempts.get(delivery.id) ?? []).filter((a) => a.attempt !== 1)]);
  }

  async recordFirstAttempt(delivery: Delivery, attempt: Attempt): Promise<boolean> {
    this.firstCalls.push({ delivery, attempt });
    if (this.deliveries.has(delivery.id)) return false;
    this.deliveries.set(delivery.id, delivery);
    this.attempts.set(delivery.id, [attempt]);
    return true;
  }

  async create(delivery: Delivery): Promise<boolean> {
    this.createCalls.push(delivery);
    if (this.deliveries.has(delivery.id)) return false;
    this.deliveries.set(delivery.id, delivery);
    return true;
  }

  async existing(ids: readonly string[]): Promise<ReadonlySet<string>> {
    return new Set(ids.filter((id) => this.deliveries.has(id)));
  }

  async get(id: string): Promise<Delivery | undefined> {
    return this.deliveries.get(id);
  }

  async getMany(ids: readonly string[]): Promise<ReadonlyMap<string, Delivery>> {
    const found = new Map<string, Delivery>();
    for (const id of ids) {
      const delivery = this.deliveries.get(id);
      if (delivery) found.set(id, delivery);
    }
    return found;
  }

  async getWithAttempts(
    id: string,
  ): Promise<{ delivery: Delivery; attempts: readonly Attempt[]; events: readonly DeliveryEvent[] } | undefined> {
    const delivery = this.deliveries.get(id);
    if (!delivery) return undefined;
    return { delivery, attempts: [...(this.attempts.get(id) ?? [])], events: [...(this.events.get(id) ?? [])] };
  }

  async recordEvent(event: DeliveryEvent): Promise<void> {
    this.events.set(event.deliveryId, [...(this.events.get(event.deliveryId) ?? []), event]);
  }

  /** As the real store: one transaction, conditional on the delivery being open or dead. */
  async acknowledge(delivery: Delivery, event: DeliveryEvent): Promise<'acknowledged' | 'already'> {
    const current = this.deliveries.get(delivery.id);
    if (!current || !['pending', 'failed', 'dead'].includes(current.status)) return 'already';
    const { nextAttemptAt: _next, ...rest } = delivery;
    this.deliveries.set(delivery.id, { ...rest, status: 'acknowledged', updatedAt: event.at });
    await this.recordEvent(event);
    return 'acknowledged';
  }

  async listOpenByEndpoint(endpointId: string, window: CreatedWindow, page: PageRequest): Promise<Page<Delivery>> {
    const items = [...this.deliveries.values()].filter(
      (d) => d.endpointId === endpointId && (d.status === 'pending' || d.status === 'failed') && inWindow(d.id, window),
    );
    return paginate(items, (d) => d.id, page);
  }

  async listByEndpoint(endpointId: string, filter: DeliveryListFilter, page: PageRequest): Promise<Page<Delivery>> {
    const items = [...this.deliveries.values()].filter(
      (d) => d.endpointId === endpointId && (filter.status === undefined || d.status === filter.status) && inWindow(d.id, filter),
    );
    return paginate(items, (d) => d.id, page);
  }

  /** As the index query: the endpoint's deliveries in the window, newest first, at most `limit`, id and status only. */
  async statusesByEndpoint(endpointId: string, window: CreatedWindow, limit: number): Promise<readonly DeliveryStatusEntry[]> {
    return [...this.deliveries.values()]
      .filter((d) => d.endpointId === endpointId && inWindow(d.id, window))
      .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
      .slice(0, limit)
      .map((d) => ({ id: d.id, status: d.status }));
  }

  /** Attempt 1 of each delivery in the ledger that has one (the real store keeps it on the delivery item). */
  async firstAttemptDurations(ids: readonly string[]): Promise<ReadonlyMap<string, number>> {
    const durations = new Map<string, number>();
    for (const id of ids) {
      const first = this.deliveries.has(id) ? this.attempts.get(id)?.find((a) => a.attempt === 1) : undefined;
      if (first) durations.set(id, first.durationMs);
    }
    return durations;
  }

  async listDead(tenantId: string, window: CreatedWindow, page: PageRequest): Promise<Page<Delivery>> {
    const items = [...this.deliveries.values()].filter((d) => d.tenantId === tenantId && d.status === 'dead' && inWindow(d.id, window));
    return paginate(items, (d) => d.id, page);
  }

  async listAllByEndpoint(endpointId: string, statuses: readonly DeliveryStatus[], sinceId?: string): Promise<readonly Delivery[]> {
    this.listAllCalls.push({ endpointId, statuses: [...statuses], sinceId });
    const items = [...this.deliveries.values()].filter(
      (d) => d.endpointId === endpointId && statuses.includes(d.status) && (sinceId === undefined || d.id >= sinceId),
    );
    return items.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  }

  /** As the indexes: `failed`/`dead` from their status partitions, every status for `all`; oldest first. */
  async replayPage(
    endpointId: string,
    statuses: readonly DeliveryStatus[] | 'all',
    range: ReplayRange,
    limit: number,
  ): Promise<readonly DeliveryStatusEntry[]> {
    return [...this.deliveries.values()]
      .filter(
        (d) =>
          d.endpointId === endpointId &&
          (statuses === 'all' || statuses.includes(d.status)) &&
          d.id >= range.from &&
          d.id <= range.to &&
          (range.after === undefined || d.id > range.after),
      )
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, limit)
      .map((d) => ({ id: d.id, status: d.status }));
  }

  /** The attempt count each delivery was last claimed for a replay at, as the ledger keeps it. */
  readonly replayClaims = new Map<string, number>();

  async claimReplay(delivery: Delivery, _taskId: string): Promise<boolean> {
    if (!this.holds(delivery) || this.replayClaims.get(delivery.id) === delivery.attemptCount) return false;
    this.replayClaims.set(delivery.id, delivery.attemptCount);
    return true;
  }

  async recordAttempt(record: AttemptRecord): Promise<boolean> {
    this.recordCalls.push(record);
    const id = record.delivery.id;
    const existing = this.attempts.get(id) ?? [];
    // Another worker already recorded this attempt number: nothing is written.
    if (existing.some((a) => a.attempt === record.attempt.attempt)) return false;
    if (!this.holds(record.previous)) return false;
    this.deliveries.set(id, record.delivery);
    this.attempts.set(id, [...existing, record.attempt]);
    return true;
  }

  async update(delivery: Delivery, previous: Delivery): Promise<boolean> {
    this.updateCalls.push({ delivery, previous });
    if (!this.holds(previous)) return false;
    this.deliveries.set(delivery.id, delivery);
    return true;
  }

  /** The conditional part of a write: the ledger still holds the state the change was computed from. */
  private holds(previous: Delivery): boolean {
    const current = this.deliveries.get(previous.id);
    return current !== undefined && current.status === previous.status && current.attemptCount === previous.attemptCount;
  }
}

export class InMemoryEndpointStore implements EndpointStore {
  readonly endpoints = new Map<string, Endpoint>();
  readonly disableCalls: { tenantId: string; id: string; reason: string; at: string }[] = [];
  readonly failureCalls: { tenantId: string; id: string; at: string }[] = [];
  /** Reads of a tenant's whole list: what a cache in front of the store saves. */
  listCalls = 0;
  readonly successCalls: { tenantId: string; id: string }[] = [];

  constructor(initial: readonly Endpoint[] = []) {
    for (const endpoint of initial) this.endpoints.set(endpoint.id, endpoint);
  }

  async create(endpoint: Endpoint): Promise<void> {
    this.endpoints.set(endpoint.id, endpoint);
  }

  async get(tenantId: string, id: string): Promise<Endpoint | undefined> {
    const endpoint = this.endpoints.get(id);
    return endpoint?.tenantId === tenantId ? endpoint : undefined;
  }

  async list(tenantId: string, page: PageRequest): Promise<Page<Endpoint>> {
    return paginate(await this.listAll(tenantId), (e) => e.id, page);
  }

  async listAll(tenantId: string): Promise<readonly Endpoint[]> {
    this.listCalls++;
    return [...this.endpoints.values()].filter((e) => e.tenantId === tenantId);
  }

  async update(endpoint: Endpoint): Promise<boolean> {
    if (!(await this.get(endpoint.tenantId, endpoint.id))) return false;
    this.endpoints.set(endpoint.id, endpoint);
    return true;
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    if (!(await this.get(tenantId, id))) return false;
    return this.endpoints.delete(id);
  }

  /** Conditional like the adapter's: only an existing, enabled endpoint is disabled (and only then true). */
  async disable(tenantId: string, id: string, reason: string, at: string): Promise<boolean> {
    this.disableCalls.push({ tenantId, id, reason, at });
    const endpoint = await this.get(tenantId, id);
    if (!endpoint || endpoint.disabled) return false;
    this.endpoints.set(id, { ...endpoint, disabled: true, disabledReason: reason, updatedAt: at });
    return true;
  }

  /** Sets failingSince if absent, counts the failure, returns failingSince (undefined for a missing endpoint). */
  async recordFailure(tenantId: string, id: string, at: string): Promise<string | undefined> {
    this.failureCalls.push({ tenantId, id, at });
    const endpoint = await this.get(tenantId, id);
    if (!endpoint) return undefined;
    const failingSince = endpoint.failingSince ?? at;
    this.endpoints.set(id, { ...endpoint, failingSince, consecutiveFailures: (endpoint.consecutiveFailures ?? 0) + 1 });
    return failingSince;
  }

  /** Clears the run of failures (a no-op when there is none, like the adapter's conditional remove). */
  async recordSuccess(tenantId: string, id: string): Promise<boolean> {
    this.successCalls.push({ tenantId, id });
    const endpoint = await this.get(tenantId, id);
    if (!endpoint?.failingSince) return false;
    const { failingSince: _since, consecutiveFailures: _count, ...healthy } = endpoint;
    this.endpoints.set(id, healthy);
    return true;
  }

  /** As the adapter: the last announcement, kept beside the endpoint, must be older than `notBefore`. */
  readonly failingNotices = new Map<string, string>();
  async claimFailingNotice(tenantId: string, id: string, at: string, notBefore: string): Promise<boolean> {
    if (!(await this.get(tenantId, id))) return false;
    const last = this.failingNotices.get(id);
    if (last !== undefined && last >= notBefore) return false;
    this.failingNotices.set(id, at);
    return true;
  }
}

export class InMemoryEventTypeStore implements EventTypeStore {
  readonly eventTypes = new Map<string, EventType>();

  constructor(initial: readonly EventType[] = []) {
    for (const eventType of initial) this.eventTypes.set(`${eventType.tenantId}|${eventType.name}`, eventType);
  }

  async put(eventType: EventType): Promise<void> {
    this.eventTypes.set(`${eventType.tenantId}|${eventType.name}`, eventType);
  }

  async get(tenantId: string, name: string): Promise<EventType | undefined> {
    return this.eventTypes.get(`${tenantId}|${name}`);
  }

  async list(tenantId: string, page: PageRequest): Promise<Page<EventType>> {
    return paginate(
      [...this.eventTypes.values()].filter((e) => e.tenantId === tenantId),
      (e) => e.name,
      page,
    );
  }

  async delete(tenantId: string, name: string): Promise<boolean> {
    return this.eventTypes.delete(`${tenantId}|${name}`);
  }
}

/**
 * Like the DynamoDB adapter: a message lives in the slot its id names (the id's random half), and
 * one conditional write stores it with its idempotency claim; a taken slot writes nothing and
 * answers with what holds it.
 */
export class InMemoryMessageStore implements MessageStore {
  readonly messages = new Map<string, Message>();
  private readonly slots = new Map<string, StoredMessage>();
  readonly createCalls: { message: Message; claim: IdempotencyClaim | undefined }[] = [];
  readonly reuseCalls: { holder: string; reuse: KeyReuse; previous: KeyReuse | undefined }[] = [];

  constructor(initial: readonly Message[] = []) {
    for (const message of initial) {
      this.messages.set(message.id, message);
      this.slots.set(messageSlot(message.id), message);
    }
  }

  async create(message: Message, claim: IdempotencyClaim | undefined): Promise<MessageCreateResult> {
    this.createCalls.push({ message, claim });
    const slot = messageSlot(message.id);
    const existing = this.slots.get(slot);
    if (existing) return { created: false, existing };
    this.slots.set(slot, { ...message, ...(claim && { idempotencyKeyHash: claim.keyHash }) });
    this.messages.set(message.id, message);
    return { created: true };
  }

  /** Conditional like the adapter's: only while the holder is there and still points at `previous`. */
  async reuseKey(holder: StoredMessage, reuse: KeyReuse, previous: KeyReuse | undefined): Promise<boolean> {
    this.reuseCalls.push({ holder: holder.id, reuse, previous });
    const slot = messageSlot(holder.id);
    const current = this.slots.get(slot);
    if (!current || current.id !== holder.id || current.keyReuse?.messageId !== previous?.messageId) return false;
    this.slots.set(slot, { ...current, keyReuse: reuse });
    return true;
  }

  /** What the key's slot holds now (the stored form, claim and pointer included). */
  slotOf(messageId: string): StoredMessage | undefined {
    return this.slots.get(messageSlot(messageId));
  }

  /** Removes a message as TTL would at the end of its retention. */
  expire(messageId: string): void {
    this.messages.delete(messageId);
    if (this.slots.get(messageSlot(messageId))?.id === messageId) this.slots.delete(messageSlot(messageId));
  }

  async get(id: string): Promise<Message | undefined> {
    return this.messages.get(id);
  }

  /** Scheduled messages whose first attempts began (`release`), as the adapter's `releasedAt`. */
  readonly released = new Set<string>();
  readonly releaseCalls: string[] = [];

  async cancel(message: Message, at: string): Promise<'cancelled' | 'released' | 'already'> {
    const current = this.messages.get(message.id);
    if (current?.cancelledAt !== undefined) return 'already';
    if (!current || this.released.has(message.id)) return 'released';
    this.messages.set(message.id, { ...current, cancelledAt: at });
    return 'cancelled';
  }

  async release(messageId: string, _at: string): Promise<boolean> {
    this.releaseCalls.push(messageId);
    const current = this.messages.get(messageId);
    if (!current || current.cancelledAt !== undefined) return false;
    this.released.add(messageId);
    return true;
  }

  async list(tenantId: string, filter: MessageListFilter, page: PageRequest): Promise<Page<Message>> {
    const items = [...this.messages.values()].filter(
      (m) => m.tenantId === tenantId && (!filter.type || m.type === filter.type) && inWindow(m.id, filter),
    );
    return paginate(items, (m) => m.id, page);
  }
}

export class InMemoryTenantStore implements TenantStore {
  readonly tenants = new Map<string, Tenant>();
  getCalls = 0;

  constructor(tenants: readonly Tenant[] = []) {
    for (const tenant of tenants) this.tenants.set(tenant.id, tenant);
  }

  async create(tenant: Tenant): Promise<void> {
    if (this.tenants.has(tenant.id)) throw new ConflictError(`tenant ${tenant.id} exists`);
    this.tenants.set(tenant.id, tenant);
  }

  async get(id: string): Promise<Tenant | undefined> {
    this.getCalls++;
    return this.tenants.get(id);
  }

  async list(page: PageRequest): Promise<Page<Tenant>> {
    return paginate([...this.tenants.values()], (t) => t.id, page);
  }

  async update(tenant: Tenant): Promise<boolean> {
    if (!this.tenants.has(tenant.id)) return false;
    this.tenants.set(tenant.id, tenant);
    return true;
  }
}

export class InMemoryApiKeyStore implements ApiKeyStore {
  readonly keys = new Map<string, ApiKey>();
  readonly grants = new Map<string, KeyGrant>();
  private readonly plaintexts = new Map<string, string>();
  readonly touchCalls: { keyId: string; at: string }[] = [];

  async create(key: ApiKey, keyHash: string, plaintextKey: string): Promise<void> {
    this.keys.set(key.id, key);
    this.plaintexts.set(key.id, plaintextKey);
    this.grants.set(keyHash, { tenantId: key.tenantId, keyId: key.id, scopes: key.scopes, keyHash });
  }

  async findGrant(keyHash: string): Promise<KeyGrant | undefined> {
    return this.grants.get(keyHash);
  }

  async get(tenantId: string, keyId: string): Promise<ApiKey | undefined> {
    const key = this.keys.get(keyId);
    return key?.tenantId === tenantId ? key : undefined;
  }

  async reveal(tenantId: string, keyId: string): Promise<string | undefined> {
    return (await this.get(tenantId, keyId)) ? this.plaintexts.get(keyId) : undefined;
  }

  async list(tenantId: string, page: PageRequest): Promise<Page<ApiKey>> {
    return paginate(
      [...this.keys.values()].filter((k) => k.tenantId === tenantId),
      (k) => k.id,
      page,
    );
  }

  async delete(tenantId: string, keyId: string): Promise<boolean> {
    if (!(await this.get(tenantId, keyId))) return false;
    this.keys.delete(keyId);
    this.plaintexts.delete(keyId);
    for (const [hash, grant] of this.grants) if (grant.keyId === keyId) this.grants.delete(hash);
    return true;
  }

  async touch(grant: KeyGrant, at: string): Promise<void> {
    this.touchCalls.push({ keyId: grant.keyId, at });
    const stored = this.grants.get(grant.keyHash);
    if (stored) this.grants.set(grant.keyHash, { ...stored, lastUsedAt: at });
    const key = this.keys.get(grant.keyId);
    if (key) this.keys.set(key.id, { ...key, lastUsedAt: at });
  }
}

/**
 * Like the DynamoDB adapter: an action and its `event_id` lookup are written and removed together,
 * so an `event_id` maps to at most one action per tenant; triggers are listed newest first.
 */
export class InMemoryActionStore implements ActionStore {
  readonly actions = new Map<string, Action>();
  readonly triggers: TriggerRecord[] = [];

  constructor(initial: readonly Action[] = []) {
    for (const action of initial) this.actions.set(action.id, action);
  }

  async create(action: Action): Promise<void> {
    if (this.actions.has(action.id)) throw new Error(`the conditional write failed: action ${action.id} exists`);
    if (await this.findByEventId(action.tenantId, action.eventId)) {
      throw new ConflictError(`an action for event_id '${action.eventId}' already exists; delete it first or use another event_id`);
    }
    this.actions.set(action.id, action);
  }

  async get(tenantId: string, id: string): Promise<Action | undefined> {
    const action = this.actions.get(id);
    return action?.tenantId === tenantId ? action : undefined;
  }

  async findByEventId(tenantId: string, eventId: string): Promise<Action | undefined> {
    return [...this.actions.values()].find((a) => a.tenantId === tenantId && a.eventId === eventId);
  }

  async list(tenantId: string, page: PageRequest): Promise<Page<Action>> {
    return paginate(
      [...this.actions.values()].filter((a) => a.tenantId === tenantId),
      (a) => a.id,
      page,
    );
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    if (!(await this.get(tenantId, id))) return false;
    return this.actions.delete(id);
  }

  async recordTrigger(trigger: TriggerRecord): Promise<void> {
    this.triggers.push(trigger);
  }

  async listTriggers(actionId: string, page: PageRequest): Promise<Page<TriggerRecord>> {
    return paginate(
      this.triggers.filter((t) => t.actionId === actionId),
      (t) => t.id,
      page,
    );
  }
}

/** Records each call with its options as given (an absent lane is the primary one, as in the SQS adapter). */
export class RecordingDeliveryQueue implements DeliveryQueue {
  readonly calls: {
    tasks: readonly QueueTask[];
    delaySeconds: number | undefined;
    delaysSeconds?: readonly number[];
    lane: DeliveryLane | undefined;
  }[] = [];
  /** When set, every call fails with it (the queue is unreachable). */
  failWith: Error | undefined;

  async enqueue(tasks: readonly QueueTask[], options?: EnqueueOptions): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.calls.push({
      tasks: [...tasks],
      delaySeconds: options?.delaySeconds,
      ...(options?.delaysSeconds && { delaysSeconds: [...options.delaysSeconds] }),
      lane: options?.lane,
    });
  }

  /** Every task queued, first-attempt jobs and delivery jobs alike. */
  get tasks(): QueueTask[] {
    return this.calls.flatMap((call) => call.tasks);
  }

  /** The delivery jobs (later attempts) queued. */
  get jobs(): DeliveryJob[] {
    return this.tasks.filter((task): task is DeliveryJob => !isFirstAttemptJob(task));
  }

  /** The first-attempt jobs queued. */
  get firstJobs(): FirstAttemptJob[] {
    return this.tasks.filter(isFirstAttemptJob);
  }

  jobsOn(lane: DeliveryLane): QueueTask[] {
    return this.calls.filter((call) => (call.lane ?? 'primary') === lane).flatMap((call) => call.tasks);
  }
}

/** Replay tasks and their per-endpoint locks, with the adapter's conditions. */
export class InMemoryReplayTaskStore implements ReplayTaskStore {
  readonly tasks = new Map<string, ReplayTask>();
  readonly locks = new Map<string, string>();

  async get(_tenantId: string, taskId: string): Promise<ReplayTask | undefined> {
    return this.tasks.get(taskId);
  }

  async current(tenantId: string, endpointId: string): Promise<{ taskId: string; task?: ReplayTask } | undefined> {
    const taskId = this.locks.get(`${tenantId}|${endpointId}`);
    if (taskId === undefined) return undefined;
    const task = this.tasks.get(taskId);
    return { taskId, ...(task && { task }) };
  }

  async start(task: ReplayTask, lockedBy: string | undefined, abandoned?: ReplayTask): Promise<boolean> {
    const lock = `${task.tenantId}|${task.endpointId}`;
    if (this.tasks.has(task.id) || this.locks.get(lock) !== lockedBy) return false;
    if (abandoned && this.tasks.get(abandoned.id)?.step !== abandoned.step) return false;
    this.tasks.set(task.id, task);
    this.locks.set(lock, task.id);
    if (abandoned) this.tasks.set(abandoned.id, abandoned);
    return true;
  }

  async save(task: ReplayTask, fromStep: number): Promise<boolean> {
    if (this.tasks.get(task.id)?.step !== fromStep) return false;
    this.tasks.set(task.id, task);
    return true;
  }
}

/** A fixed-window counter per endpoint and second, like the ledger's. */
export class FakeRateLimiter implements RateLimiter {
  readonly calls: { subject: RateSubject; limitPerSecond: number; at: string }[] = [];
  private readonly used = new Map<string, number>();

  async tryAcquire(subject: RateSubject, limitPerSecond: number, now: Date): Promise<boolean> {
    this.calls.push({ subject, limitPerSecond, at: now.toISOString() });
    const key = `${JSON.stringify(subject)}|${Math.floor(now.getTime() / 1000)}`;
    const used = this.used.get(key) ?? 0;
    if (used >= limitPerSecond) return false;
    this.used.set(key, used + 1);
    return true;
  }
}

export class RecordingSystemEventPublisher implements SystemEventPublisher {
  readonly published: { tenantId: string; type: string; payload: Record<string, unknown>; options?: SystemEventOptions }[] = [];

  constructor(private readonly clock: Clock = new FakeClock()) {}

  async publish(tenantId: string, type: string, payload: Record<string, unknown>, options?: SystemEventOptions): Promise<Message> {
    this.published.push({ tenantId, type, payload, ...(options && { options }) });
    const id = `msg_01JN${String(this.published.length).padStart(22, '0')}`;
    return { id, tenantId, type, payloadJson: JSON.stringify(payload), createdAt: this.clock.now().toISOString() };
  }
}

/**
 * The sweeper's index: each item sorts by `<at>#<id>` and is overdue when that key sorts before
 * `before`, exactly the adapter's `gsi5sk < :before`. Items are added by the test.
 */
export class InMemoryDueWorkIndex implements DueWorkIndex {
  private readonly entries = new Map<string, { item: DueItem; at: string }>();
  readonly overdueCalls: { before: string; limit: number }[] = [];
  readonly postponeCalls: { item: DueItem; until: string }[] = [];

  add(item: DueItem, at: string): void {
    this.entries.set(item.id, { item, at });
  }

  remove(item: DueItem): void {
    this.entries.delete(item.id);
  }

  /** Where the item sits in the index now (undefined when it is not in it). */
  positionOf(item: DueItem): string | undefined {
    return this.entries.get(item.id)?.at;
  }

  async overdue(before: string, limit: number): Promise<readonly DueItem[]> {
    this.overdueCalls.push({ before, limit });
    return [...this.entries.values()]
      .map((entry) => ({ item: entry.item, key: `${entry.at}#${entry.item.id}` }))
      .filter((entry) => entry.key < before)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .slice(0, limit)
      .map((entry) => entry.item);
  }

  async postpone(item: DueItem, until: string): Promise<void> {
    this.postponeCalls.push({ item, until });
    const key = item.id;
    const entry = this.entries.get(key);
    // Only while it is still in the index: a finished item must not re-enter it.
    if (entry) this.entries.set(key, { item: entry.item, at: until });
  }
}

/** Allows every URL except those listed in `refused`; records what it checked. */
export class RecordingDestinationGuard implements DestinationGuard {
  readonly checked: string[] = [];

  constructor(private readonly refused: ReadonlySet<string> = new Set()) {}

  async check(url: string): Promise<void> {
    this.checked.push(url);
    if (this.refused.has(url)) throw new ForbiddenDestinationError(`${url} is not allowed`);
  }
}

/** The dispatched messages by position (their id), and the sweeper's bookmark, like the adapter's. */
export class InMemoryDispatchedMessages implements DispatchedMessages {
  private readonly entries: DispatchedMessage[] = [];
  bookmark: string | undefined;
  readonly afterCalls: { position: string | undefined; before: string; limit: number }[] = [];

  /** Scheduled messages too far ahead for the queue's delay: waiting for the sweeper, by position. */
  readonly waiting: DispatchedMessage[] = [];

  /** Adds what the adapter would index: a stored message that went to endpoints (a scheduled one at its time). */
  add(message: Message): void {
    if (!message.endpointIds?.length) return;
    const dispatchAt = dispatchTimeOf(message);
    const entry = {
      messageId: message.id,
      tenantId: message.tenantId,
      endpointIds: message.endpointIds,
      position: keys.dispatchSortKey(message.id, isScheduled(message) ? dispatchAt : undefined),
      dispatchAt,
    };
    (waitsForSweeper(message) ? this.waiting : this.entries).push(entry);
  }

  async scheduledBefore(before: string, limit: number): Promise<readonly string[]> {
    const to = this.positionAt(before);
    return this.waiting
      .filter((e) => e.position < to)
      .sort((a, b) => (a.position < b.position ? -1 : 1))
      .slice(0, limit)
      .map((e) => e.messageId);
  }

  /** Cancelled messages leave the indexes, as the adapter's cancel removes their keys. */
  cancelled(messageId: string): void {
    for (const list of [this.waiting, this.entries]) {
      const at = list.findIndex((e) => e.messageId === messageId);
      if (at >= 0) list.splice(at, 1);
    }
  }

  async handOver(messageId: string): Promise<boolean> {
    const at = this.waiting.findIndex((e) => e.messageId === messageId);
    if (at < 0) return false;
    const [entry] = this.waiting.splice(at, 1);
    if (entry) this.entries.push(entry);
    return true;
  }

  async after(position: string | undefined, before: string, limit: number): Promise<readonly DispatchedMessage[]> {
    this.afterCalls.push({ position, before, limit });
    const to = this.positionAt(before);
    return this.entries
      .filter((e) => (position === undefined || e.position > position) && e.position < to)
      .sort((a, b) => (a.position < b.position ? -1 : 1))
      .slice(0, limit);
  }

  async checkedUpTo(): Promise<string | undefined> {
    return this.bookmark;
  }

  async markCheckedUpTo(position: string, previous: string | undefined): Promise<boolean> {
    if (this.bookmark !== previous) return false;
    this.bookmark = position;
    return true;
  }

  positionAt(at: string): string {
    return idFloor('message', new Date(at));
  }
}

export class RecordingDeadLetterSink implements DeadLetterSink {
  readonly parked: { body: string; reason: string }[] = [];

  async park(body: string, reason: string): Promise<void> {
    this.parked.push({ body, reason });
  }
}

type Respond = HttpResult | ((request: HttpRequest) => HttpResult | Promise<HttpResult>);

/**
 * Answers every request with `respond` (a fixed result or a function of the request, which may
 * return a promise the test settles later) and records the requests.
 */
export class ScriptedHttpSender implements HttpSender {
  readonly requests: HttpRequest[] = [];

  constructor(private respond: Respond = { durationMs: 12, statusCode: 200 }) {}

  answer(respond: Respond): void {
    this.respond = respond;
  }

  async send(request: HttpRequest): Promise<HttpResult> {
    this.requests.push(request);
    return typeof this.respond === 'function' ? this.respond(request) : this.respond;
  }
}

/** Reads the stores at load time, like the adapter's one round trip: later writes are not seen. */
export class SnapshotContextLoader implements DeliveryContextLoader {
  readonly loadCalls: { jobs: readonly DeliveryJob[]; messageIds: readonly string[] }[] = [];

  constructor(
    private readonly deliveries: InMemoryDeliveryStore,
    private readonly endpoints: InMemoryEndpointStore,
    private readonly messages: InMemoryMessageStore,
  ) {}

  async load(jobs: readonly DeliveryJob[], messageIds: readonly string[]): Promise<LedgerSnapshot> {
    this.loadCalls.push({ jobs, messageIds });
    const deliveries = new Map<string, Delivery>();
    const endpoints = new Map<string, Endpoint>();
    const messages = new Map<string, Message>();
    const keepMessage = (id: string) => {
      const message = this.messages.messages.get(id);
      if (message) messages.set(message.id, message);
    };
    for (const id of messageIds) keepMessage(id);
    for (const job of jobs) {
      const delivery = this.deliveries.deliveries.get(job.deliveryId);
      if (delivery) deliveries.set(delivery.id, delivery);
      const endpoint = this.endpoints.endpoints.get(job.endpointId);
      if (endpoint) endpoints.set(`${endpoint.tenantId}|${endpoint.id}`, endpoint);
      keepMessage(job.messageId);
    }
    return {
      delivery: (id) => deliveries.get(id),
      endpoint: (tenantId, id) => endpoints.get(`${tenantId}|${id}`),
      message: (id) => messages.get(id),
    };
  }
}

// Builders: a valid object with the test's overrides on top.

export const TENANT = 'ten_01JN0000000000000000000000';
/** A fixed Standard Webhooks secret (`whsec_` + base64 of 32 bytes). */
export const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
export const OLD_SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

export function anEndpoint(overrides: Partial<Endpoint> = {}): Endpoint {
  return {
    id: 'ep_01JN00000000000000000000EP',
    tenantId: TENANT,
    url: 'https://receiver.example.com/hooks',
    mode: 'full',
    retryPolicy: { preset: 'exponential' },
    timeoutMs: 10_000,
    disabled: false,
    secrets: [{ value: SECRET, createdAt: '2025-01-01T00:00:00.000Z' }],
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    ...overrides,
  };
}

export function aMessage(overrides: Partial<Message> = {}): Message {
  return {
    id: 'msg_01JN0000000000000000000MSG',
    tenantId: TENANT,
    type: 'lock.unlocked',
    payloadJson: '{"lockId":"L-1","at":"2025-03-01T11:59:00Z","n":1.50}',
    createdAt: '2025-03-01T11:59:59.000Z',
    ...overrides,
  };
}

/** Unless given, scheduledAttempts equals attemptCount (every attempt so far was a scheduled one). */
export function aDelivery(overrides: Partial<Delivery> = {}): Delivery {
  return {
    id: 'dlv_01JN0000000000000000000DLV',
    tenantId: TENANT,
    messageId: 'msg_01JN0000000000000000000MSG',
    endpointId: 'ep_01JN00000000000000000000EP',
    eventType: 'lock.unlocked',
    status: 'pending',
    attemptCount: 0,
    scheduledAttempts: overrides.attemptCount ?? 0,
    nextAttemptAt: T0.toISOString(),
    createdAt: T0.toISOString(),
    updatedAt: T0.toISOString(),
    ...overrides,
  };
}

/** The job that addresses a delivery: the core's own builder, under the name the tests use. */
export const jobFor = jobOf;

/** The first-attempt job dispatch makes of a message, for these endpoints. */
export function firstJobFor(message: Message, endpointIds: readonly string[], withPayload = true): FirstAttemptJob {
  return {
    kind: 'first',
    tenantId: message.tenantId,
    messageId: message.id,
    type: message.type,
    createdAt: message.createdAt,
    endpointIds: [...endpointIds],
    ...(withPayload && { payloadJson: message.payloadJson }),
  };
}

/** A promise the test settles by hand. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A random source that replays the given values (then the last one forever). */
export function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)] ?? 0.5;
}

/** The svix / Standard Webhooks check done by hand: HMAC-SHA256 over `id.timestamp.body` with the decoded secret. */
export function expectedSignature(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`, 'utf8').digest('base64');
}

export interface DeliveryHarnessOptions {
  readonly delivery?: Delivery;
  /** More deliveries in the ledger (same message and endpoint unless they say otherwise). */
  readonly others?: readonly Delivery[];
  readonly endpoint?: Endpoint | null;
  readonly message?: Message | null;
  readonly answer?: HttpResult;
  readonly random?: () => number;
  readonly inFlight?: InFlightAttempts;
  readonly failureWindowSeconds?: number;
}

/**
 * A DeliveryService over in-memory ports, with no jitter unless `random` says otherwise. Its
 * endpoint directory caches nothing unless `cacheSeconds` says so, so a test's change to an
 * endpoint is seen by the next attempt.
 */
export function deliveryHarness(options: DeliveryHarnessOptions & { readonly cacheSeconds?: number } = {}) {
  const delivery = options.delivery ?? aDelivery();
  const endpoint = options.endpoint === null ? undefined : (options.endpoint ?? anEndpoint());
  const message = options.message === null ? undefined : (options.message ?? aMessage());
  const deliveries = new InMemoryDeliveryStore([delivery, ...(options.others ?? [])]);
  const endpoints = new InMemoryEndpointStore(endpoint ? [endpoint] : []);
  const messages = new InMemoryMessageStore(message ? [message] : []);
  const queue = new RecordingDeliveryQueue();
  const sender = new ScriptedHttpSender(options.answer ?? { durationMs: 42, statusCode: 200, responseBody: 'ok' });
  const clock = new FakeClock(T0);
  const rateLimiter = new FakeRateLimiter();
  const systemEvents = new RecordingSystemEventPublisher(clock);
  const directory = new EndpointDirectory(endpoints, clock, options.cacheSeconds ?? 0);
  const loader = new SnapshotContextLoader(deliveries, endpoints, messages);
  const service = new DeliveryService({
    deliveries,
    endpointStore: endpoints,
    endpoints: directory,
    loader,
    queue,
    sender,
    rateLimiter,
    systemEvents,
    messages,
    clock,
    random: options.random ?? (() => 0.5),
    ...(options.inFlight && { inFlight: options.inFlight }),
    ...(options.failureWindowSeconds !== undefined && { failureWindowSeconds: options.failureWindowSeconds }),
  });
  const run = async (job: DeliveryJob = jobFor(delivery), lane?: DeliveryLane): Promise<DeliveryReport> =>
    service.run(job, (await service.prepare([{ task: job, receiveCount: 1 }])).ledger, lane);
  /** First attempts of the harness's message (or another), as dispatch queues them. */
  const runFirst = async (
    job: FirstAttemptJob = firstJobFor(message ?? aMessage(), [endpoint?.id ?? anEndpoint().id]),
    lane: DeliveryLane = 'primary',
    receiveCount = 1,
  ): Promise<readonly AttributedReport[]> => service.runFirst(job, await service.prepare([{ task: job, receiveCount }]), lane);
  const stored = () => deliveries.deliveries.get(delivery.id);
  const attempts = () => deliveries.attempts.get(delivery.id) ?? [];
  const storedEndpoint = () => endpoints.endpoints.get(delivery.endpointId);
  return {
    delivery,
    endpoint,
    message,
    deliveries,
    endpoints,
    messages,
    queue,
    sender,
    clock,
    rateLimiter,
    systemEvents,
    directory,
    loader,
    service,
    run,
    runFirst,
    stored,
    attempts,
    storedEndpoint,
  };
}
