import { addSeconds, type Clock } from './clock.ts';
import { firstAttemptJobs } from './dispatch.ts';
import type { EndpointDirectory } from './endpoint-directory.ts';
import { deliveryIdFor } from './ids.ts';
import { jobOf, MAX_QUEUE_DELAY_SECONDS } from './jobs.ts';
import { type Delivery, type DeliveryLane, terminalStatuses } from './model.ts';
import type { DeliveryQueue, DeliveryStore, DispatchedMessage, DispatchedMessages, DueWorkIndex, MessageStore } from './ports.ts';
import { dispatchTimeOf, SCHEDULE_LOOKAHEAD_SECONDS, secondsUntil } from './schedule.ts';

/** How late an item must be before the sweeper steps in (its own job is probably just queued). */
export const DEFAULT_SWEEP_GRACE_SECONDS = 120;
/** On its very first run the sweeper checks the messages of this long before the grace period. */
const FIRST_RUN_LOOKBACK_SECONDS = 3600;
/** An endpoint's longest timeout (contract §3): how long a first attempt to a deleted endpoint may have run. */
const MAX_ATTEMPT_SECONDS = 30;
const BATCH = 500;

export interface SweepReport {
  /** Scheduled messages whose time is near, queued with the rest of their wait as the delay. */
  readonly scheduled: number;
  /** Deliveries past their next attempt, re-enqueued. */
  readonly deliveries: number;
  /** Messages with an endpoint that has no delivery after the grace period, dispatched again. */
  readonly messages: number;
  /** Messages checked. */
  readonly checked: number;
}

export interface SweeperDeps {
  readonly due: DueWorkIndex;
  readonly deliveries: DeliveryStore;
  readonly messages: MessageStore;
  readonly dispatched: DispatchedMessages;
  readonly endpoints: EndpointDirectory;
  readonly deliveryQueue: DeliveryQueue;
  readonly clock: Clock;
  readonly graceSeconds?: number;
}

/**
 * The ledger's guarantee that a lost queue message delays work but never loses it. Two kinds of
 * work can be lost with a job: a delivery past its next attempt (the sparse due index lists
 * those), and a message's first attempts, which write nothing before they run. For the second,
 * the sweeper reads every dispatched message once, when it is one grace period old, and checks
 * that each of its endpoints has a delivery; any that has none is dispatched again.
 */
export class SweeperService {
  constructor(private readonly deps: SweeperDeps) {}

  async sweep(maxItems = 5000): Promise<SweepReport> {
    const scheduled = await this.queueScheduledMessages(maxItems);
    const deliveries = await this.sweepDueDeliveries(maxItems);
    const { messages, checked } = await this.sweepDispatchedMessages(maxItems * 10);
    return { scheduled, deliveries, messages, checked };
  }

  /**
   * Scheduled messages too far ahead for the queue's delay when they were accepted wait in the
   * ledger; once their time is within the lookahead, each is handed over to the dispatched ones
   * (so the check below covers it) and its jobs are queued with the rest of the wait as delay.
   * A crash between the two leaves it to that check, after its time: late, never lost.
   */
  private async queueScheduledMessages(maxItems: number): Promise<number> {
    let queued = 0;
    let seen = 0;
    while (seen < maxItems) {
      const now = this.deps.clock.now();
      const ids = await this.deps.dispatched.scheduledBefore(addSeconds(now, SCHEDULE_LOOKAHEAD_SECONDS).toISOString(), BATCH);
      seen += ids.length;
      let handedOver = 0;
      for (const id of ids) {
        if (!(await this.deps.dispatched.handOver(id))) continue;
        handedOver++;
        const message = await this.deps.messages.get(id);
        if (!message?.endpointIds) continue;
        const delaySeconds = Math.min(secondsUntil(dispatchTimeOf(message), this.deps.clock.now()), MAX_QUEUE_DELAY_SECONDS);
        await this.deps.deliveryQueue.enqueue(firstAttemptJobs(message, message.endpointIds), {
          lane: 'primary',
          ...(delaySeconds > 0 && { delaySeconds }),
        });
        queued++;
      }
      // A full page none of which could be taken is the index lagging behind moves already made: next sweep.
      if (ids.length < BATCH || handedOver === 0) break;
    }
    return queued;
  }

  private async sweepDueDeliveries(maxItems: number): Promise<number> {
    const grace = this.deps.graceSeconds ?? DEFAULT_SWEEP_GRACE_SECONDS;
    let swept = 0;
    while (swept < maxItems) {
      const now = this.deps.clock.now();
      const items = await this.deps.due.overdue(addSeconds(now, -grace).toISOString(), BATCH);
      if (items.length === 0) break;
      // Each item moves out of the sweeper's way for one grace period, whatever becomes of it.
      const until = addSeconds(now, grace).toISOString();
      await Promise.all(items.map((item) => this.deps.due.postpone(item, until)));
      const found = await this.deps.deliveries.getMany(items.map((i) => i.id));
      const overdue = [...found.values()].filter((d) => !terminalStatuses.has(d.status) && d.nextAttemptAt);
      swept += await enqueueByLane(this.deps.deliveryQueue, overdue, (d) => (d.attemptCount > 0 ? 'retry' : 'primary'));
      if (items.length < BATCH) break;
    }
    return swept;
  }

  /**
   * Checks the messages dispatched since the bookmark up to one grace period ago. A first attempt
   * writes its delivery when it ends, up to the endpoint's timeout after it starts, so a missing
   * delivery counts as lost only once the message is older than the grace plus that timeout; the
   * bookmark waits at the first message it cannot decide yet. It moves only after every lost
   * dispatch found is queued again, so an outage of the queue delays the check, and a crash of
   * the sweeper repeats it; neither skips a message.
   */
  private async sweepDispatchedMessages(maxMessages: number): Promise<{ messages: number; checked: number }> {
    const now = this.deps.clock.now();
    const grace = this.deps.graceSeconds ?? DEFAULT_SWEEP_GRACE_SECONDS;
    const before = addSeconds(now, -grace).toISOString();
    const bookmark = await this.deps.dispatched.checkedUpTo();
    let position = bookmark ?? this.deps.dispatched.positionAt(addSeconds(now, -grace - FIRST_RUN_LOOKBACK_SECONDS).toISOString());
    let messages = 0;
    let checked = 0;
    let undecided = false;
    while (checked < maxMessages && !undecided) {
      const batch = await this.deps.dispatched.after(position, before, BATCH);
      if (batch.length === 0) break;
      const pairs = batch.flatMap((m) => m.endpointIds.map((endpointId) => deliveryIdFor(m.messageId, endpointId)));
      const existing = await this.deps.deliveries.existing(pairs);
      for (const message of batch) {
        const missing = message.endpointIds.filter((endpointId) => !existing.has(deliveryIdFor(message.messageId, endpointId)));
        if (missing.length > 0) {
          const lostAfter = addSeconds(message.dispatchAt, grace + (await this.longestAttempt(message.tenantId, missing)));
          if (lostAfter.getTime() > now.getTime()) {
            undecided = true;
            break;
          }
          if (await this.redispatch(message, missing)) messages++;
        }
        checked++;
        position = message.position;
      }
      if (batch.length < BATCH) break;
    }
    if (position !== bookmark) await this.deps.dispatched.markCheckedUpTo(position, bookmark);
    return { messages, checked };
  }

  /** Seconds the first attempts to these endpoints may take (their timeouts). */
  private async longestAttempt(tenantId: string, endpointIds: readonly string[]): Promise<number> {
    const timeouts = await Promise.all(
      endpointIds.map(async (id) => {
        const endpoint = await this.deps.endpoints.cached(tenantId, id);
        return endpoint ? Math.ceil(endpoint.timeoutMs / 1000) : MAX_ATTEMPT_SECONDS;
      }),
    );
    return Math.max(0, ...timeouts);
  }

  /** Dispatches the message again to the endpoints that have no delivery, on the retry lane. */
  private async redispatch(dispatched: DispatchedMessage, endpointIds: readonly string[]): Promise<boolean> {
    const message = await this.deps.messages.get(dispatched.messageId);
    if (!message) return false;
    await this.deps.deliveryQueue.enqueue(firstAttemptJobs(message, endpointIds, { recheck: true }), { lane: 'retry' });
    return true;
  }
}

/** Enqueues each delivery's job on the lane `laneOf` picks: one batched call per lane that has any. */
async function enqueueByLane(
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
