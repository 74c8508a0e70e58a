import { addSeconds, type Clock, epochSeconds } from './clock.ts';
import { activeSecrets } from './endpoints.ts';
import type { Attempt, AttemptOutcome, Delivery, Endpoint, Message } from './model.ts';
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
} from './ports.ts';
import { nextRetryDelaySeconds, parseRetryAfter } from './retry-schedule.ts';
import { signatureHeader } from './signing.ts';

export const USER_AGENT = 'Sluice/1.0';
/** SQS caps a message's delay at 15 minutes; longer waits are re-enqueued in steps. */
export const MAX_QUEUE_DELAY_SECONDS = 900;
/** A job may arrive this much before its delivery is due and still be attempted. */
const EARLY_TOLERANCE_MS = 1000;

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
    'user-agent': USER_AGENT,
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

export type DeliveryReport =
  | {
      readonly kind: 'attempted';
      readonly delivery: Delivery;
      readonly attempt: Attempt;
      /** Seconds until the next attempt; absent when none is scheduled. */
      readonly retryInSeconds?: number;
    }
  | { readonly kind: 'deferred'; readonly deliveryId: string; readonly dueInSeconds: number }
  | { readonly kind: 'skipped'; readonly deliveryId: string; readonly reason: string }
  | { readonly kind: 'closed'; readonly delivery: Delivery; readonly reason: string };

export interface DeliveryDeps {
  readonly deliveries: DeliveryStore;
  readonly endpoints: EndpointStore;
  readonly loader: DeliveryContextLoader;
  readonly queue: DeliveryQueue;
  readonly deadLetters: DeadLetterSink;
  readonly sender: HttpSender;
  readonly clock: Clock;
  readonly random: () => number;
}

export class DeliveryService {
  constructor(private readonly deps: DeliveryDeps) {}

  /** One read for a whole batch of jobs (deliveries, endpoints and messages together). */
  prepare(jobs: readonly DeliveryJob[]): Promise<DeliveryContext> {
    return this.deps.loader.load(jobs);
  }

  async run(job: DeliveryJob, context: DeliveryContext): Promise<DeliveryReport> {
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
      await this.deps.queue.enqueue([job], Math.min(dueInSeconds, MAX_QUEUE_DELAY_SECONDS));
      return { kind: 'deferred', deliveryId: delivery.id, dueInSeconds };
    }
    const endpoint = context.endpoint(delivery.tenantId, delivery.endpointId);
    if (!endpoint) return this.close(delivery, 'dead', 'the endpoint was deleted', now);
    if (endpoint.disabled) {
      // Paused, not lost: enabling the endpoint dates the delivery again.
      return this.close(
        delivery,
        delivery.status,
        `endpoint is disabled${endpoint.disabledReason ? ` (${endpoint.disabledReason})` : ''}`,
        now,
      );
    }
    const message = context.message(delivery.messageId);
    if (!message) return this.close(delivery, 'dead', 'the message is gone (expired from history)', now);
    return this.attempt(delivery, endpoint, message, manual, now);
  }

  private async attempt(delivery: Delivery, endpoint: Endpoint, message: Message, manual: boolean, now: Date): Promise<DeliveryReport> {
    const number = delivery.attemptCount + 1;
    const result = await this.deps.sender.send(buildRequest(endpoint, message, delivery, number, now));
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
    const retryAfter =
      result.statusCode === 429 || result.statusCode === 503 ? parseRetryAfter(result.headers?.['retry-after'], finishedAt) : undefined;
    // 410 means the receiver unsubscribed: no retry is scheduled and the endpoint is disabled below.
    const retryIn = outcome === 'failed' ? nextRetryDelaySeconds(endpoint.retryPolicy, number, this.deps.random, retryAfter) : undefined;
    const { nextAttemptAt: _n, lastError: _e, lastStatusCode: _s, ...rest } = delivery;
    const next: Delivery = {
      ...rest,
      status: outcome === 'succeeded' ? 'succeeded' : outcome === 'failed' && retryIn === undefined ? 'dead' : 'failed',
      attemptCount: number,
      lastAttemptAt: now.toISOString(),
      updatedAt: finishedAt.toISOString(),
      ...(retryIn !== undefined && { nextAttemptAt: addSeconds(finishedAt, retryIn).toISOString() }),
      ...(result.statusCode !== undefined && { lastStatusCode: result.statusCode }),
      ...(attempt.error !== undefined && { lastError: attempt.error }),
    };
    const recorded = await this.deps.deliveries.recordAttempt({ delivery: next, previous: delivery, attempt });
    if (!recorded) return { kind: 'skipped', deliveryId: delivery.id, reason: `attempt ${number} was already recorded` };
    if (outcome === 'gone') {
      await this.disableEndpoint(endpoint, `the endpoint answered 410 Gone at ${finishedAt.toISOString()}`);
    } else if (retryIn !== undefined) {
      await this.deps.queue.enqueue([jobOf(next)], Math.min(Math.ceil(retryIn), MAX_QUEUE_DELAY_SECONDS));
    } else if (next.status === 'dead') {
      await this.deps.deadLetters.park(JSON.stringify({ ...jobOf(next), attempts: number }), 'retries exhausted');
    }
    return { kind: 'attempted', delivery: next, attempt, ...(retryIn !== undefined && { retryInSeconds: retryIn }) };
  }

  private async disableEndpoint(endpoint: Endpoint, reason: string): Promise<void> {
    if (endpoint.disabled) return;
    await this.deps.endpoints.disable(endpoint.tenantId, endpoint.id, reason, this.deps.clock.now().toISOString());
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

export function jobOf(delivery: Delivery): DeliveryJob {
  return {
    deliveryId: delivery.id,
    tenantId: delivery.tenantId,
    messageId: delivery.messageId,
    endpointId: delivery.endpointId,
  };
}
