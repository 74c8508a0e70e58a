/**
 * The delivery worker: one signed HTTP attempt per (message, endpoint), recorded in the ledger,
 * then the next step (a retry, dead, done). First attempts come from the message's dispatch and
 * touch the ledger once, after the attempt; later attempts read the delivery first.
 */
import { addSeconds, type Clock } from './clock.ts';
import { type AttemptSubject, buildRequest, classify, subjectOf } from './delivery-request.ts';
import type { EndpointDirectory } from './endpoint-directory.ts';
import { EndpointHealth } from './endpoint-health.ts';
import { deliveryIdFor } from './ids.ts';
import { InFlightAttempts } from './in-flight.ts';
import {
  type DeliveryJob,
  type DeliveryTask,
  type FirstAttemptJob,
  isAnnouncement,
  isFirstAttemptJob,
  isReplayStep,
  jobOf,
  MAX_QUEUE_DELAY_SECONDS,
  type QueueTask,
} from './jobs.ts';
import type { Attempt, Delivery, DeliveryLane, Endpoint } from './model.ts';
import { terminalStatuses, unattemptedDelivery } from './model.ts';
import { attemptEventPayload, isOperationalEventType } from './operational-events.ts';
import type {
  DeliveryContextLoader,
  DeliveryQueue,
  DeliveryStore,
  EndpointStore,
  HttpResult,
  HttpSender,
  LedgerSnapshot,
  MessageStore,
  RateLimiter,
  SystemEventPublisher,
} from './ports.ts';
import { isReplayed } from './replay.ts';
import { nextRetryDelaySeconds, parseRetryAfter } from './retry-schedule.ts';

export { MAX_QUEUE_DELAY_SECONDS };

/** A job may arrive this much before its delivery is due and still be attempted. */
const EARLY_TOLERANCE_MS = 1000;

export { DEFAULT_FAILURE_WINDOW_SECONDS } from './endpoint-health.ts';

export type DeliveryReport =
  | {
      readonly kind: 'attempted';
      readonly delivery: Delivery;
      readonly attempt: Attempt;
      /** Seconds until the next attempt; absent when none is scheduled. */
      readonly retryInSeconds?: number;
      /** Set when this attempt disabled the endpoint (410, or failing for the whole window). */
      readonly endpointDisabled?: string;
    }
  | { readonly kind: 'deferred'; readonly deliveryId: string; readonly dueInSeconds: number }
  /** A poll endpoint's delivery waits in its inbox; unacknowledged, it is looked at again then. */
  | { readonly kind: 'awaiting-pull'; readonly delivery: Delivery; readonly checkInSeconds: number }
  | { readonly kind: 'diverted'; readonly deliveryId: string; readonly reason: string }
  | { readonly kind: 'throttled'; readonly deliveryId: string }
  | { readonly kind: 'skipped'; readonly deliveryId: string; readonly reason: string }
  | { readonly kind: 'closed'; readonly delivery: Delivery; readonly reason: string };

/** A report with the ids a log line needs. */
/** A report with the ids the delivery log carries (the tenant too: per-tenant Contributor Insights group by it). */
export type AttributedReport = DeliveryReport & {
  readonly ids: { tenantId: string; messageId: string; endpointId: string; deliveryId: string };
};

export interface DeliveryDeps {
  readonly deliveries: DeliveryStore;
  /** Health writes (failures, successes, disabling). */
  readonly endpointStore: EndpointStore;
  /** Cached reads for first attempts; fresh reads where a stale copy must not decide. */
  readonly endpoints: EndpointDirectory;
  readonly loader: DeliveryContextLoader;
  readonly queue: DeliveryQueue;
  readonly sender: HttpSender;
  readonly rateLimiter: RateLimiter;
  readonly systemEvents: SystemEventPublisher;
  /** Scheduled messages: their first attempts release them (or find them cancelled). */
  readonly messages: Pick<MessageStore, 'release'>;
  readonly clock: Clock;
  readonly random: () => number;
  readonly inFlight?: InFlightAttempts;
  /** A run of failures this long disables the endpoint. */
  readonly failureWindowSeconds?: number;
}

/** A batch's reads: the ledger snapshot for later attempts, the endpoint cache for first ones. */
export interface DeliveryContext {
  readonly ledger: LedgerSnapshot;
  /** First-attempt jobs that SQS handed out before: their deliveries already in the ledger. */
  readonly recorded: ReadonlyMap<string, Delivery>;
}

export interface TaskRun {
  readonly task: QueueTask;
  /** SQS's ApproximateReceiveCount: above 1, an earlier run of this task may have done part of it. */
  readonly receiveCount: number;
}

export class DeliveryService {
  private readonly inFlight: InFlightAttempts;
  private readonly health: EndpointHealth;

  constructor(private readonly deps: DeliveryDeps) {
    this.inFlight = deps.inFlight ?? new InFlightAttempts();
    this.health = new EndpointHealth({
      endpointStore: deps.endpointStore,
      endpoints: deps.endpoints,
      systemEvents: deps.systemEvents,
      ...(deps.failureWindowSeconds !== undefined && { failureWindowSeconds: deps.failureWindowSeconds }),
    });
  }

  /**
   * One read for a whole batch: deliveries, endpoints and messages of the later attempts, the
   * messages of first attempts too large to travel in their job, and, for a first-attempt job
   * SQS hands out again or the sweeper sent again, the deliveries already recorded (so it does
   * not POST twice). A first-attempt job seen for the first time reads nothing.
   */
  async prepare(runs: readonly TaskRun[]): Promise<DeliveryContext> {
    const jobs: DeliveryJob[] = [];
    const messageIds: string[] = [];
    const redelivered: string[] = [];
    for (const { task, receiveCount } of runs) {
      if (isAnnouncement(task) || isReplayStep(task)) continue;
      if (!isFirstAttemptJob(task)) {
        jobs.push(task);
        continue;
      }
      if (task.payloadJson === undefined) messageIds.push(task.messageId);
      if (receiveCount > 1 || task.recheck) {
        redelivered.push(...task.endpointIds.map((endpointId) => deliveryIdFor(task.messageId, endpointId)));
      }
    }
    const [ledger, recorded] = await Promise.all([
      jobs.length + messageIds.length > 0 ? this.deps.loader.load(jobs, messageIds) : Promise.resolve(emptySnapshot),
      redelivered.length > 0 ? this.deps.deliveries.getMany(redelivered) : Promise.resolve(new Map<string, Delivery>()),
    ]);
    return { ledger, recorded };
  }

  /** Runs one queue task: first attempts to each of a message's endpoints, or one later attempt. */
  async runTask(task: DeliveryTask, context: DeliveryContext, lane: DeliveryLane): Promise<readonly AttributedReport[]> {
    if (isAnnouncement(task)) {
      await this.deps.systemEvents.publish(task.tenantId, task.type, task.payload, { idempotencyKey: task.key });
      return [];
    }
    if (isFirstAttemptJob(task)) return this.runFirst(task, context, lane);
    const report = await this.run(task, context.ledger, lane);
    return [
      { ...report, ids: { tenantId: task.tenantId, messageId: task.messageId, endpointId: task.endpointId, deliveryId: task.deliveryId } },
    ];
  }

  /** First attempts of one message, to each endpoint of the job, at once. `manual`: an operator asked (a test ping). */
  async runFirst(
    job: FirstAttemptJob,
    context: DeliveryContext,
    lane: DeliveryLane,
    options: { readonly manual?: boolean } = {},
  ): Promise<readonly AttributedReport[]> {
    if (job.deliverAt !== undefined) {
      const held = await this.holdScheduled(job, job.deliverAt, lane);
      if (held) return held;
    }
    const payloadJson = job.payloadJson ?? context.ledger.message(job.messageId)?.payloadJson;
    return Promise.all(
      job.endpointIds.map(async (endpointId): Promise<AttributedReport> => {
        const deliveryId = deliveryIdFor(job.messageId, endpointId);
        const ids = { tenantId: job.tenantId, messageId: job.messageId, endpointId, deliveryId };
        const recorded = context.recorded.get(deliveryId);
        if (recorded) return { kind: 'skipped', deliveryId, reason: `an earlier run recorded it (${recorded.status})`, ids };
        const report = await this.first(job, endpointId, deliveryId, payloadJson, lane, options.manual ?? false);
        return { ...report, ids };
      }),
    );
  }

  /**
   * A scheduled message's job: sent back to wait if it came early (the queue's delay is capped at
   * 15 minutes), else the message is released, unless it was cancelled, which ends the job.
   * Undefined: go ahead.
   */
  private async holdScheduled(job: FirstAttemptJob, deliverAt: string, lane: DeliveryLane): Promise<AttributedReport[] | undefined> {
    const now = this.deps.clock.now();
    const each = (report: (deliveryId: string) => DeliveryReport): AttributedReport[] =>
      job.endpointIds.map((endpointId) => {
        const deliveryId = deliveryIdFor(job.messageId, endpointId);
        return { ...report(deliveryId), ids: { tenantId: job.tenantId, messageId: job.messageId, endpointId, deliveryId } };
      });
    const dueInSeconds = secondsEarly(deliverAt, now);
    if (dueInSeconds !== undefined) {
      await this.deps.queue.enqueue([job], { delaySeconds: Math.min(dueInSeconds, MAX_QUEUE_DELAY_SECONDS), lane });
      return each((deliveryId) => ({ kind: 'deferred', deliveryId, dueInSeconds }));
    }
    if (await this.deps.messages.release(job.messageId, now.toISOString())) return undefined;
    return each((deliveryId) => ({ kind: 'skipped', deliveryId, reason: 'the message was cancelled before its deliverAt' }));
  }

  private async first(
    job: FirstAttemptJob,
    endpointId: string,
    deliveryId: string,
    payloadJson: string | undefined,
    lane: DeliveryLane,
    manual: boolean,
  ): Promise<DeliveryReport> {
    const now = this.deps.clock.now();
    const delivery = unattemptedDelivery(
      { id: job.messageId, tenantId: job.tenantId, type: job.type, createdAt: job.createdAt },
      endpointId,
      now.toISOString(),
    );
    const alreadyRecorded: DeliveryReport = { kind: 'skipped', deliveryId, reason: 'already in the ledger' };
    let endpoint = await this.deps.endpoints.cached(job.tenantId, endpointId);
    // Pausing or closing rests on a fresh read: a stale copy must not strand a delivery.
    if (!endpoint || endpoint.disabled) endpoint = await this.deps.endpoints.fresh(job.tenantId, endpointId);
    if (!endpoint) return this.open(withoutNext(delivery, 'dead', 'the endpoint was deleted', now));
    if (endpoint.disabled) return this.open(withoutNext(delivery, 'pending', disabledReason(endpoint), now));
    if (payloadJson === undefined) return this.open(withoutNext(delivery, 'dead', 'the message is gone (expired from history)', now));
    if (endpoint.mode === 'poll') return this.awaitPull(delivery, undefined, endpoint, now);
    // A thin notification names the delivery, and its receiver fetches it at once: it must be in
    // the ledger before the POST. From then on it is attempted like any delivery in the ledger.
    const thin = endpoint.mode === 'thin';
    if (thin && !(await this.deps.deliveries.create(delivery))) return alreadyRecorded;
    const recorded = thin ? delivery : undefined;
    if (lane === 'primary' && (endpoint.failingSince || this.inFlight.isSlow(endpoint.id, now.getTime()))) {
      const reason = endpoint.failingSince ? 'endpoint is failing' : 'endpoint is slow';
      if (!recorded && !(await this.deps.deliveries.create(delivery))) return alreadyRecorded;
      await this.deps.queue.enqueue([jobOf(delivery)], { lane: 'retry' });
      return { kind: 'diverted', deliveryId, reason };
    }
    if (
      endpoint.rateLimitPerSecond &&
      !(await this.deps.rateLimiter.tryAcquire({ endpointId: endpoint.id }, endpoint.rateLimitPerSecond, now))
    ) {
      // The job comes back in a second; a delivery already recorded is due now, so it is attempted then.
      const waiting = recorded ?? { ...delivery, nextAttemptAt: addSeconds(now, 1).toISOString() };
      if (!recorded && !(await this.deps.deliveries.create(waiting))) return alreadyRecorded;
      await this.deps.queue.enqueue([jobOf(waiting)], { delaySeconds: 1, lane });
      return { kind: 'throttled', deliveryId };
    }
    const subject: AttemptSubject = { messageId: job.messageId, type: job.type, createdAt: job.createdAt, deliveryId, payloadJson };
    return this.attempt(delivery, recorded, endpoint, subject, manual, now);
  }

  /** A later attempt of a delivery in the ledger: a retry, a manual attempt, a re-enqueue. */
  async run(job: DeliveryJob, ledger: LedgerSnapshot, lane: DeliveryLane = 'primary'): Promise<DeliveryReport> {
    const now = this.deps.clock.now();
    const delivery = ledger.delivery(job.deliveryId);
    if (!delivery) return { kind: 'skipped', deliveryId: job.deliveryId, reason: 'no such delivery in the ledger' };
    if (job.replay && !isReplayed(job.replay.status, delivery.status)) {
      return {
        kind: 'skipped',
        deliveryId: delivery.id,
        reason: `replay of ${job.replay.status} deliveries, and this one is ${delivery.status} now`,
      };
    }
    const manual = job.trigger === 'manual';
    if (terminalStatuses.has(delivery.status) && !manual) {
      return { kind: 'skipped', deliveryId: delivery.id, reason: `delivery is already ${delivery.status}` };
    }
    if (!manual && delivery.nextAttemptAt === undefined) {
      return { kind: 'skipped', deliveryId: delivery.id, reason: 'delivery is paused (endpoint disabled)' };
    }
    const dueInSeconds = delivery.nextAttemptAt ? secondsEarly(delivery.nextAttemptAt, now) : undefined;
    if (!manual && dueInSeconds !== undefined) {
      await this.deps.queue.enqueue([job], { delaySeconds: Math.min(dueInSeconds, MAX_QUEUE_DELAY_SECONDS), lane: 'retry' });
      return { kind: 'deferred', deliveryId: delivery.id, dueInSeconds };
    }
    const finished = terminalStatuses.has(delivery.status);
    const endpoint = ledger.endpoint(delivery.tenantId, delivery.endpointId);
    if (!endpoint) {
      if (finished) return { kind: 'skipped', deliveryId: delivery.id, reason: 'the endpoint was deleted' };
      return this.close(delivery, 'dead', 'the endpoint was deleted', now);
    }
    if (endpoint.disabled) {
      // Paused, not lost: enabling the endpoint dates the delivery again.
      if (manual) return { kind: 'skipped', deliveryId: delivery.id, reason: 'endpoint is disabled' };
      return this.close(delivery, delivery.status, disabledReason(endpoint), now);
    }
    const message = ledger.message(delivery.messageId);
    if (!message) {
      if (finished) return { kind: 'skipped', deliveryId: delivery.id, reason: 'the message is gone (expired from history)' };
      return this.close(delivery, 'dead', 'the message is gone (expired from history)', now);
    }
    if (endpoint.mode === 'poll') {
      if (manual) return { kind: 'skipped', deliveryId: delivery.id, reason: 'a poll endpoint is not sent to: its receiver pulls' };
      return this.awaitPull(delivery, delivery, endpoint, now);
    }
    if (lane === 'primary' && !manual && (endpoint.failingSince || this.inFlight.isSlow(endpoint.id, now.getTime()))) {
      await this.deps.queue.enqueue([job], { lane: 'retry' });
      return { kind: 'diverted', deliveryId: delivery.id, reason: endpoint.failingSince ? 'endpoint is failing' : 'endpoint is slow' };
    }
    if (
      endpoint.rateLimitPerSecond &&
      !(await this.deps.rateLimiter.tryAcquire({ endpointId: endpoint.id }, endpoint.rateLimitPerSecond, now))
    ) {
      // Over the endpoint's budget for this second: wait, never drop.
      await this.deps.queue.enqueue([job], { delaySeconds: 1, lane });
      return { kind: 'throttled', deliveryId: delivery.id };
    }
    // Claimed last, just before the POST: a job that waited above must still be able to claim.
    if (job.replay && !(await this.deps.deliveries.claimReplay(delivery, job.replay.taskId))) {
      return { kind: 'skipped', deliveryId: delivery.id, reason: 'a replay attempted it already in this state' };
    }
    return this.attempt(delivery, delivery, endpoint, subjectOf(message, delivery.id), manual, now);
  }

  /** One HTTP attempt; `previous` is the ledger's state of the delivery, absent on a first attempt. */
  private async attempt(
    delivery: Delivery,
    previous: Delivery | undefined,
    endpoint: Endpoint,
    subject: AttemptSubject,
    manual: boolean,
    now: Date,
  ): Promise<DeliveryReport> {
    const number = delivery.attemptCount + 1;
    const done = this.inFlight.begin(endpoint.id, now.getTime());
    let result: HttpResult;
    try {
      result = await this.deps.sender.send(buildRequest(endpoint, subject, number, now));
    } finally {
      done();
    }
    const outcome = classify(result);
    const finishedAt = this.deps.clock.now();
    const attempt: Attempt = {
      deliveryId: delivery.id,
      attempt: number,
      trigger: manual ? 'manual' : 'scheduled',
      startedAt: now.toISOString(),
      durationMs: result.durationMs,
      ...(result.statusCode !== undefined && { statusCode: result.statusCode }),
      ...(result.error && { error: `${result.error.code}: ${result.error.message}` }),
      ...(result.responseBody !== undefined && { responseBody: result.responseBody }),
      outcome,
    };
    const next = this.nextState(delivery, endpoint, attempt, result, manual, finishedAt);
    if (previous) {
      if (!(await this.deps.deliveries.recordAttempt({ delivery: next.delivery, previous, attempt }))) {
        return { kind: 'skipped', deliveryId: delivery.id, reason: `attempt ${number} was already recorded` };
      }
    } else if (next.delivery.status === 'succeeded') {
      await this.deps.deliveries.settleFirstAttempt(next.delivery, attempt);
    } else if (!(await this.deps.deliveries.recordFirstAttempt(next.delivery, attempt))) {
      return { kind: 'skipped', deliveryId: delivery.id, reason: 'attempt 1 was already recorded' };
    }

    if (next.retryInSeconds !== undefined) {
      await this.deps.queue.enqueue([jobOf(next.delivery)], {
        delaySeconds: Math.min(Math.ceil(next.retryInSeconds), MAX_QUEUE_DELAY_SECONDS),
        lane: 'retry',
      });
    }
    // Exhausted retries are the customer's failure, not the pipeline's: the delivery stays `dead` in
    // the ledger (dead letters, redrive), and the delivery DLQ, whose alarm pages an operator,
    // keeps only what the pipeline could not handle.
    if (next.delivery.status === 'dead' && delivery.status !== 'dead') await this.announceExhausted(endpoint, next.delivery, finishedAt);
    const endpointDisabled = await this.health.track(endpoint, outcome, finishedAt, next.delivery);
    return {
      kind: 'attempted',
      delivery: next.delivery,
      attempt,
      ...(next.retryInSeconds !== undefined && { retryInSeconds: next.retryInSeconds }),
      ...(endpointDisabled && { endpointDisabled }),
    };
  }

  /**
   * The delivery after an attempt. A failed attempt that was due uses up one retry; so does a
   * thin-mode notification, since a 2xx there only says "received": the delivery stays open,
   * and is notified again on the schedule, until the receiver acknowledges it. A manual attempt
   * made before the next one was due changes nothing on the schedule, and a manual attempt on a
   * finished delivery leaves its status as it was.
   */
  private nextState(
    delivery: Delivery,
    endpoint: Endpoint,
    attempt: Attempt,
    result: HttpResult,
    manual: boolean,
    finishedAt: Date,
  ): { delivery: Delivery; retryInSeconds?: number } {
    const { nextAttemptAt: previousNext, lastError: _e, lastStatusCode: _s, ...rest } = delivery;
    const base = {
      ...rest,
      attemptCount: attempt.attempt,
      lastAttemptAt: attempt.startedAt,
      updatedAt: finishedAt.toISOString(),
      ...(attempt.statusCode !== undefined && { lastStatusCode: attempt.statusCode }),
      ...(attempt.error !== undefined && { lastError: attempt.error }),
    };
    const thin = endpoint.mode === 'thin';
    if (attempt.outcome === 'succeeded' && !thin) return { delivery: { ...base, status: 'succeeded' } };
    // A manual attempt never reopens a finished delivery, whatever the answer.
    if (manual && terminalStatuses.has(delivery.status)) return { delivery: { ...base, status: delivery.status } };
    // 410: the receiver unsubscribed. The endpoint is disabled; this delivery waits with it.
    if (attempt.outcome === 'gone') return { delivery: { ...base, status: 'failed' } };
    const open = attempt.outcome === 'succeeded' ? 'pending' : 'failed';
    if (manual && previousNext && Date.parse(previousNext) > finishedAt.getTime()) {
      return { delivery: { ...base, status: open, nextAttemptAt: previousNext } };
    }
    const scheduledAttempts = delivery.scheduledAttempts + 1;
    const retryAfter =
      attempt.statusCode === 429 || attempt.statusCode === 503 ? parseRetryAfter(result.headers?.['retry-after'], finishedAt) : undefined;
    const retryIn = nextRetryDelaySeconds(endpoint.retryPolicy, scheduledAttempts, this.deps.random, retryAfter);
    if (retryIn === undefined) return { delivery: { ...base, scheduledAttempts, status: 'dead' } };
    return {
      delivery: { ...base, scheduledAttempts, status: open, nextAttemptAt: addSeconds(finishedAt, retryIn).toISOString() },
      retryInSeconds: retryIn,
    };
  }

  /**
   * A poll endpoint's delivery: nothing is sent. It waits in the inbox, and each time its
   * schedule comes round unacknowledged it uses up one retry, until the schedule runs out and it
   * is `dead` (the inbox's `expired`). `previous`: the ledger's state; absent when it is new.
   */
  private async awaitPull(delivery: Delivery, previous: Delivery | undefined, endpoint: Endpoint, now: Date): Promise<DeliveryReport> {
    const scheduledAttempts = (previous?.scheduledAttempts ?? 0) + 1;
    const checkIn = nextRetryDelaySeconds(endpoint.retryPolicy, scheduledAttempts, this.deps.random);
    const at = now.toISOString();
    if (checkIn === undefined) {
      const expired = { ...withoutNext(delivery, 'dead', 'not acknowledged within the retry schedule', now), scheduledAttempts };
      if (!previous || !(await this.deps.deliveries.update(expired, previous))) {
        return { kind: 'skipped', deliveryId: delivery.id, reason: 'the ledger moved on meanwhile' };
      }
      await this.announceExhausted(endpoint, expired, now);
      return { kind: 'closed', delivery: expired, reason: 'not acknowledged within the retry schedule' };
    }
    const waiting: Delivery = {
      ...delivery,
      status: 'pending',
      scheduledAttempts,
      nextAttemptAt: addSeconds(now, checkIn).toISOString(),
      updatedAt: at,
    };
    const written = previous ? await this.deps.deliveries.update(waiting, previous) : await this.deps.deliveries.create(waiting);
    if (!written)
      return { kind: 'skipped', deliveryId: delivery.id, reason: previous ? 'the ledger moved on meanwhile' : 'already in the ledger' };
    await this.deps.queue.enqueue([jobOf(waiting)], { delaySeconds: Math.min(Math.ceil(checkIn), MAX_QUEUE_DELAY_SECONDS), lane: 'retry' });
    return { kind: 'awaiting-pull', delivery: waiting, checkInSeconds: checkIn };
  }

  /**
   * A delivery went dead: the tenant hears of it (`message.attempt.exhausted`), unless it is itself
   * an operational event (no event about an event's own delivery: no loops).
   */
  private async announceExhausted(endpoint: Endpoint, dead: Delivery, at: Date): Promise<void> {
    if (isOperationalEventType(dead.eventType)) return;
    await this.deps.systemEvents.publish(endpoint.tenantId, 'message.attempt.exhausted', {
      ...attemptEventPayload(endpoint, dead),
      attempts: dead.attemptCount,
      deadAt: at.toISOString(),
    });
  }

  /** A first attempt that cannot be made: the delivery goes into the ledger as it stands. */
  private async open(delivery: Delivery): Promise<DeliveryReport> {
    if (!(await this.deps.deliveries.create(delivery)))
      return { kind: 'skipped', deliveryId: delivery.id, reason: 'already in the ledger' };
    return { kind: 'closed', delivery, reason: delivery.lastError ?? delivery.status };
  }

  /** Ends or pauses a delivery without an HTTP attempt; the reason stays in the ledger. */
  private async close(delivery: Delivery, status: Delivery['status'], reason: string, now: Date): Promise<DeliveryReport> {
    const next = withoutNext(delivery, status, reason, now);
    const updated = await this.deps.deliveries.update(next, delivery);
    if (!updated) return { kind: 'skipped', deliveryId: delivery.id, reason: 'the ledger moved on meanwhile' };
    return { kind: 'closed', delivery: next, reason };
  }
}

const emptySnapshot: LedgerSnapshot = { delivery: () => undefined, endpoint: () => undefined, message: () => undefined };

/** How many seconds before `dueAt` a job arrived, when that is more than the tolerance; undefined: it is due. */
function secondsEarly(dueAt: string, now: Date): number | undefined {
  const dueInMs = Date.parse(dueAt) - now.getTime();
  return dueInMs > EARLY_TOLERANCE_MS ? Math.ceil(dueInMs / 1000) : undefined;
}

function disabledReason(endpoint: Endpoint): string {
  return `endpoint is disabled${endpoint.disabledReason ? ` (${endpoint.disabledReason})` : ''}`;
}

function withoutNext(delivery: Delivery, status: Delivery['status'], reason: string, now: Date): Delivery {
  const { nextAttemptAt: _dropped, ...rest } = delivery;
  return { ...rest, status, lastError: reason, updatedAt: now.toISOString() };
}
