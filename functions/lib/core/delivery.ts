import { addSeconds, type Clock, epochSeconds } from './clock.ts';
import { activeSecrets } from './endpoints.ts';
import type { Attempt, AttemptOutcome, Delivery, DeliveryLane, Endpoint, Message } from './model.ts';
import { terminalStatuses } from './model.ts';
import type {
  DeadLetterSink,
  DeliveryContext,
  DeliveryContextLoader,
  DeliveryJob,
  DeliveryQueue,
  DeliveryStore,
  EndpointStore,
  HttpRequest,
  HttpResult,
  HttpSender,
  RateLimiter,
  SystemEventPublisher,
} from './ports.ts';
import { nextRetryDelaySeconds, parseRetryAfter } from './retry-schedule.ts';
import { signatureHeader } from './signing.ts';

export const USER_AGENT = 'Sluice/1.0';
/** SQS caps a message's delay at 15 minutes; longer waits are re-enqueued in steps. */
export const MAX_QUEUE_DELAY_SECONDS = 900;
/** A job may arrive this much before its delivery is due and still be attempted. */
const EARLY_TOLERANCE_MS = 1000;
/** Default run of failures after which an endpoint is disabled (contract: 5 days). */
export const DEFAULT_FAILURE_WINDOW_SECONDS = 5 * 24 * 3600;

export function classify(result: HttpResult): AttemptOutcome {
  if (result.statusCode === undefined) return 'failed';
  if (result.statusCode >= 200 && result.statusCode < 300) return 'succeeded';
  if (result.statusCode === 410) return 'gone';
  return 'failed';
}

/** The full-mode body: the envelope around the payload exactly as it was posted. */
export function deliveryBody(message: Message): string {
  return `{"id":${JSON.stringify(message.id)},"type":${JSON.stringify(message.type)},"createdAt":${JSON.stringify(message.createdAt)},"data":${message.payloadJson}}`;
}

export function buildRequest(endpoint: Endpoint, message: Message, delivery: Delivery, attempt: number, now: Date): HttpRequest {
  const body = endpoint.mode === 'thin' ? '' : deliveryBody(message);
  const headers: Record<string, string> = {
    ...endpoint.headers,
    'user-agent': endpoint.userAgent ?? USER_AGENT,
    'webhook-id': message.id,
    'webhook-timestamp': String(epochSeconds(now)),
    'webhook-signature': signatureHeader(activeSecrets(endpoint.secrets, now), message.id, now, body),
    'x-sluice-event-type': message.type,
    'x-sluice-delivery-id': delivery.id,
    'x-sluice-attempt': String(attempt),
  };
  if (endpoint.mode === 'thin') headers['x-message-id'] = delivery.id;
  else headers['content-type'] = 'application/json';
  if (endpoint.auth) {
    const credentials = Buffer.from(`${endpoint.auth.username}:${endpoint.auth.password}`).toString('base64');
    headers.authorization = `Basic ${credentials}`;
  }
  return { url: endpoint.url, headers, body, timeoutMs: endpoint.timeoutMs };
}

/**
 * Attempts in flight in this process, per endpoint. An endpoint whose oldest attempt has been
 * waiting longer than `slowAfterMs` is slow: its next jobs go to the retry lane instead of
 * holding a primary-lane batch open until they time out too.
 */
export class InFlightAttempts {
  /** Start time of every attempt in flight, per endpoint, keyed by a per-attempt token. */
  private readonly started = new Map<string, Map<number, number>>();
  private nextToken = 0;

  constructor(private readonly slowAfterMs = 1000) {}

  begin(endpointId: string, at: number): () => void {
    const attempts = this.started.get(endpointId) ?? new Map<number, number>();
    const token = this.nextToken++;
    attempts.set(token, at);
    this.started.set(endpointId, attempts);
    return () => {
      attempts.delete(token);
      if (attempts.size === 0) this.started.delete(endpointId);
    };
  }

  isSlow(endpointId: string, now: number): boolean {
    for (const at of this.started.get(endpointId)?.values() ?? []) if (now - at > this.slowAfterMs) return true;
    return false;
  }
}

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
  | { readonly kind: 'diverted'; readonly deliveryId: string; readonly reason: string }
  | { readonly kind: 'throttled'; readonly deliveryId: string }
  | { readonly kind: 'skipped'; readonly deliveryId: string; readonly reason: string }
  | { readonly kind: 'closed'; readonly delivery: Delivery; readonly reason: string };

export interface DeliveryDeps {
  readonly deliveries: DeliveryStore;
  readonly endpoints: EndpointStore;
  readonly loader: DeliveryContextLoader;
  readonly queue: DeliveryQueue;
  readonly deadLetters: DeadLetterSink;
  readonly sender: HttpSender;
  readonly rateLimiter: RateLimiter;
  readonly systemEvents: SystemEventPublisher;
  readonly clock: Clock;
  readonly random: () => number;
  readonly inFlight?: InFlightAttempts;
  /** A run of failures this long disables the endpoint. */
  readonly failureWindowSeconds?: number;
}

export class DeliveryService {
  private readonly inFlight: InFlightAttempts;

  constructor(private readonly deps: DeliveryDeps) {
    this.inFlight = deps.inFlight ?? new InFlightAttempts();
  }

  /** One read for a whole batch of jobs (deliveries, endpoints and messages together). */
  prepare(jobs: readonly DeliveryJob[]): Promise<DeliveryContext> {
    return this.deps.loader.load(jobs);
  }

  async run(job: DeliveryJob, context: DeliveryContext, lane: DeliveryLane = 'primary'): Promise<DeliveryReport> {
    const now = this.deps.clock.now();
    const delivery = context.delivery(job.deliveryId);
    if (!delivery) return { kind: 'skipped', deliveryId: job.deliveryId, reason: 'no such delivery in the ledger' };
    const manual = job.trigger === 'manual';
    if (terminalStatuses.has(delivery.status) && !manual) {
      return { kind: 'skipped', deliveryId: delivery.id, reason: `delivery is already ${delivery.status}` };
    }
    if (!manual && delivery.nextAttemptAt === undefined) {
      return { kind: 'skipped', deliveryId: delivery.id, reason: 'delivery is paused (endpoint disabled)' };
    }
    const dueInMs = delivery.nextAttemptAt ? Date.parse(delivery.nextAttemptAt) - now.getTime() : 0;
    if (!manual && dueInMs > EARLY_TOLERANCE_MS) {
      const dueInSeconds = Math.ceil(dueInMs / 1000);
      await this.deps.queue.enqueue([job], { delaySeconds: Math.min(dueInSeconds, MAX_QUEUE_DELAY_SECONDS), lane: 'retry' });
      return { kind: 'deferred', deliveryId: delivery.id, dueInSeconds };
    }
    const finished = terminalStatuses.has(delivery.status);
    const endpoint = context.endpoint(delivery.tenantId, delivery.endpointId);
    if (!endpoint) {
      if (finished) return { kind: 'skipped', deliveryId: delivery.id, reason: 'the endpoint was deleted' };
      return this.close(delivery, 'dead', 'the endpoint was deleted', now);
    }
    if (endpoint.disabled) {
      // Paused, not lost: enabling the endpoint dates the delivery again.
      if (manual) return { kind: 'skipped', deliveryId: delivery.id, reason: 'endpoint is disabled' };
      const reason = `endpoint is disabled${endpoint.disabledReason ? ` (${endpoint.disabledReason})` : ''}`;
      return this.close(delivery, delivery.status, reason, now);
    }
    const message = context.message(delivery.messageId);
    if (!message) {
      if (finished) return { kind: 'skipped', deliveryId: delivery.id, reason: 'the message is gone (expired from history)' };
      return this.close(delivery, 'dead', 'the message is gone (expired from history)', now);
    }
    if (lane === 'primary' && !manual && (endpoint.failingSince || this.inFlight.isSlow(endpoint.id, now.getTime()))) {
      await this.deps.queue.enqueue([job], { lane: 'retry' });
      return { kind: 'diverted', deliveryId: delivery.id, reason: endpoint.failingSince ? 'endpoint is failing' : 'endpoint is slow' };
    }
    if (endpoint.rateLimitPerSecond && !(await this.deps.rateLimiter.tryAcquire(endpoint.id, endpoint.rateLimitPerSecond, now))) {
      // Over the endpoint's budget for this second: wait, never drop.
      await this.deps.queue.enqueue([job], { delaySeconds: 1, lane });
      return { kind: 'throttled', deliveryId: delivery.id };
    }
    return this.attempt(delivery, endpoint, message, manual, now);
  }

  private async attempt(delivery: Delivery, endpoint: Endpoint, message: Message, manual: boolean, now: Date): Promise<DeliveryReport> {
    const number = delivery.attemptCount + 1;
    const done = this.inFlight.begin(endpoint.id, now.getTime());
    let result: HttpResult;
    try {
      result = await this.deps.sender.send(buildRequest(endpoint, message, delivery, number, now));
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
    const recorded = await this.deps.deliveries.recordAttempt({ delivery: next.delivery, previous: delivery, attempt });
    if (!recorded) return { kind: 'skipped', deliveryId: delivery.id, reason: `attempt ${number} was already recorded` };

    if (next.retryInSeconds !== undefined) {
      await this.deps.queue.enqueue([jobOf(next.delivery)], {
        delaySeconds: Math.min(Math.ceil(next.retryInSeconds), MAX_QUEUE_DELAY_SECONDS),
        lane: 'retry',
      });
    } else if (next.delivery.status === 'dead' && delivery.status !== 'dead') {
      await this.deps.deadLetters.park(JSON.stringify({ ...jobOf(next.delivery), attempts: number }), 'retries exhausted');
    }
    const endpointDisabled = await this.trackHealth(endpoint, outcome, finishedAt);
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
   * Consecutive-failure tracking. A run of failures that spans the window disables the endpoint
   * and tells the tenant with an `endpoint.disabled` event. Returns the reason when it disabled.
   */
  private async trackHealth(endpoint: Endpoint, outcome: AttemptOutcome, at: Date): Promise<string | undefined> {
    if (outcome === 'succeeded') {
      if (endpoint.failingSince) await this.deps.endpoints.recordSuccess(endpoint.tenantId, endpoint.id);
      return undefined;
    }
    if (outcome === 'gone') return this.disableEndpoint(endpoint, `the endpoint answered 410 Gone at ${at.toISOString()}`, at);
    const failingSince = await this.deps.endpoints.recordFailure(endpoint.tenantId, endpoint.id, at.toISOString());
    const windowSeconds = this.deps.failureWindowSeconds ?? DEFAULT_FAILURE_WINDOW_SECONDS;
    if (failingSince && at.getTime() - Date.parse(failingSince) >= windowSeconds * 1000) {
      return this.disableEndpoint(endpoint, `every attempt failed from ${failingSince} to ${at.toISOString()}`, at, failingSince);
    }
    return undefined;
  }

  private async disableEndpoint(endpoint: Endpoint, reason: string, at: Date, failingSince?: string): Promise<string | undefined> {
    if (endpoint.disabled) return undefined;
    // Only the worker whose write actually disabled it announces it.
    if (!(await this.deps.endpoints.disable(endpoint.tenantId, endpoint.id, reason, at.toISOString()))) return undefined;
    await this.deps.systemEvents.publish(endpoint.tenantId, 'endpoint.disabled', {
      endpointId: endpoint.id,
      url: endpoint.url,
      reason,
      disabledAt: at.toISOString(),
      ...(failingSince && { failingSince }),
    });
    return reason;
  }

  /** Ends or pauses a delivery without an HTTP attempt; the reason stays in the ledger. */
  private async close(delivery: Delivery, status: Delivery['status'], reason: string, now: Date): Promise<DeliveryReport> {
    const { nextAttemptAt: _dropped, ...rest } = delivery;
    const next: Delivery = { ...rest, status, lastError: reason, updatedAt: now.toISOString() };
    const updated = await this.deps.deliveries.update(next, delivery);
    if (!updated) return { kind: 'skipped', deliveryId: delivery.id, reason: 'the ledger moved on meanwhile' };
    return { kind: 'closed', delivery: next, reason };
  }
}

/** Enqueues each delivery's job on the lane `laneOf` picks: one batched call per lane that has any. */
export async function enqueueByLane(
  queue: DeliveryQueue,
  deliveries: readonly Delivery[],
  laneOf: (delivery: Delivery) => DeliveryLane,
): Promise<number> {
  for (const lane of ['primary', 'retry'] as const) {
    const jobs = deliveries.filter((d) => laneOf(d) === lane).map((d) => jobOf(d));
    if (jobs.length > 0) await queue.enqueue(jobs, { lane });
  }
  return deliveries.length;
}

export function jobOf(delivery: Delivery, trigger?: DeliveryJob['trigger']): DeliveryJob {
  return {
    deliveryId: delivery.id,
    tenantId: delivery.tenantId,
    messageId: delivery.messageId,
    endpointId: delivery.endpointId,
    ...(trigger && { trigger }),
  };
}
