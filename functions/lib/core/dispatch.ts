/**
 * Routing and dispatch. Routing (at ingest) picks the endpoints a message goes to from the
 * tenant's endpoints, a copy at most a few seconds old, and records them on the message; dispatch
 * turns the stored message into first-attempt jobs. No delivery is written before its attempt.
 */
import type { Clock } from './clock.ts';
import type { EndpointDirectory } from './endpoint-directory.ts';
import { type FilterSubject, matchesFilter, storedFilterOf } from './filters.ts';
import { type FirstAttemptJob, MAX_ENDPOINTS_PER_JOB, MAX_INLINE_PAYLOAD_BYTES, MAX_QUEUE_DELAY_SECONDS } from './jobs.ts';
import type { DeliveryLane, Endpoint, Message } from './model.ts';
import { isOptInEventType } from './operational-events.ts';
import type { DeliveryQueue } from './ports.ts';
import { dispatchTimeOf, isScheduled, secondsUntil } from './schedule.ts';

/** `device.command` reaches devices by an action's target only, never by subscription (§7). */
const TARGET_ROUTED_TYPES = new Set(['device.command']);

export function isSubscribed(endpoint: Endpoint, type: string): boolean {
  if (TARGET_ROUTED_TYPES.has(type)) return false;
  if (endpoint.eventTypes === undefined) return !isOptInEventType(type);
  return endpoint.eventTypes.includes(type);
}

/**
 * Whether a message goes to an endpoint: subscribed to its type, then the endpoint's filter, if
 * any, holds for it. Evaluated in memory on the tenant's cached endpoints, so a filter costs no
 * read, and a message it turns away creates no delivery and no write.
 */
export function isRoutedTo(endpoint: Endpoint, subject: FilterSubject): boolean {
  if (!isSubscribed(endpoint, subject.type)) return false;
  if (endpoint.filter === undefined) return true;
  const filter = storedFilterOf(endpoint.filter);
  // A stored filter is checked when it is written; one a later version refuses delivers rather than drops.
  return filter === undefined || matchesFilter(filter, subject);
}

export interface DispatchDeps {
  readonly endpoints: EndpointDirectory;
  readonly queue: DeliveryQueue;
  readonly clock: Clock;
}

/**
 * Dispatch: the first attempts of stored messages become jobs on the delivery lanes. It runs on
 * the ledger's stream of new message items, so a message that is stored is dispatched, whatever
 * happens to the request that stored it; and a batch of messages costs one queue call a lane.
 */
export class DispatchService {
  constructor(private readonly deps: DispatchDeps) {}

  /** Queues the messages' jobs; returns how many. Failing endpoints wait in the retry lane, behind nothing healthy. */
  async dispatch(messages: readonly Message[]): Promise<number> {
    // Jobs by lane and delay: a scheduled message's wait for its deliverAt is the queue's delay.
    const batches = new Map<string, { lane: DeliveryLane; delaySeconds: number; jobs: FirstAttemptJob[] }>();
    const add = (lane: DeliveryLane, delaySeconds: number, jobs: readonly FirstAttemptJob[]) => {
      if (jobs.length === 0) return;
      const key = `${lane}/${delaySeconds}`;
      const batch = batches.get(key) ?? { lane, delaySeconds, jobs: [] };
      batch.jobs.push(...jobs);
      batches.set(key, batch);
    };
    const now = this.deps.clock.now();
    // A batch is mostly a few tenants' messages: each tenant's failing endpoints are worked out once.
    const failingOf = new Map<string, ReadonlySet<string>>();
    for (const message of messages) {
      const endpointIds = message.endpointIds ?? [];
      if (endpointIds.length === 0 || message.attemptedInline) continue;
      let failing = failingOf.get(message.tenantId);
      if (!failing) {
        failing = new Set((await this.deps.endpoints.all(message.tenantId)).filter((e) => e.failingSince).map((e) => e.id));
        failingOf.set(message.tenantId, failing);
      }
      const delaySeconds = Math.min(secondsUntil(dispatchTimeOf(message), now), MAX_QUEUE_DELAY_SECONDS);
      add(
        'primary',
        delaySeconds,
        firstAttemptJobs(
          message,
          endpointIds.filter((id) => !failing.has(id)),
        ),
      );
      add(
        'retry',
        delaySeconds,
        firstAttemptJobs(
          message,
          endpointIds.filter((id) => failing.has(id)),
        ),
      );
    }
    let queued = 0;
    for (const { lane, delaySeconds, jobs } of batches.values()) {
      await this.deps.queue.enqueue(jobs, { lane, ...(delaySeconds > 0 && { delaySeconds }) });
      queued += jobs.length;
    }
    return queued;
  }
}

/** The first attempts of a message to these endpoints, ten to a job; `recheck` for jobs sent again. */
export function firstAttemptJobs(
  message: Message,
  endpointIds: readonly string[],
  options: { readonly recheck?: boolean } = {},
): FirstAttemptJob[] {
  const inline = Buffer.byteLength(message.payloadJson, 'utf8') <= MAX_INLINE_PAYLOAD_BYTES;
  const jobs: FirstAttemptJob[] = [];
  for (let i = 0; i < endpointIds.length; i += MAX_ENDPOINTS_PER_JOB) {
    jobs.push({
      kind: 'first',
      tenantId: message.tenantId,
      messageId: message.id,
      type: message.type,
      createdAt: message.createdAt,
      endpointIds: endpointIds.slice(i, i + MAX_ENDPOINTS_PER_JOB),
      ...(inline && { payloadJson: message.payloadJson }),
      ...(options.recheck && { recheck: true }),
      ...(isScheduled(message) && { deliverAt: message.deliverAt }),
    });
  }
  return jobs;
}
