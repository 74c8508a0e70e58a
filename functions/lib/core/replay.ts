/**
 * Bulk replay: re-send an endpoint's deliveries over a time range, after an outage, as a
 * background task. The task advances a page at a time on the retry lane, each step queuing its
 * page's attempts spread at the endpoint's pace and then the next step for when they are done,
 * so no request is held open and the endpoint's rate limit is never outrun. Each attempt is a
 * manual one that claims the delivery first, so a delivery gets at most one replay attempt in a
 * given state, however often the task (or a step, or a job) runs.
 */
import { addSeconds, type Clock } from './clock.ts';
import { ConflictError, NotFoundError, ValidationError } from './errors.ts';
import { hasPrefix, type IdGenerator, idCeiling, idFloor, messageIdOfDelivery } from './ids.ts';
import { type DeliveryJob, MAX_QUEUE_DELAY_SECONDS, type ReplayStep } from './jobs.ts';
import type { DeliveryStatus, ReplayRequest, ReplayScope, ReplayTask } from './model.ts';
import type { DeliveryQueue, DeliveryStatusEntry, DeliveryStore, EndpointStore, ReplayTaskStore } from './ports.ts';
import { secondsUntil } from './schedule.ts';

/** The pace of a replay to an endpoint that sets no `rateLimitPerSecond`: a receiver just back up is not flooded. */
export const DEFAULT_REPLAY_PER_SECOND = 50;
/** Deliveries one step reads and queues. */
export const REPLAY_PAGE_SIZE = 500;
/** A task none of whose steps ran for this long after one was due is stalled: a new replay may replace it. */
export const REPLAY_STALL_SECONDS = 900;
/**
 * A step that failed this many times marks its task failed rather than throw again: below the
 * retry lane's `maxReceiveCount` (5), so the task says why before the step reaches the DLQ.
 */
export const REPLAY_STEP_MAX_RECEIVES = 4;
export const MAX_REPLAY_EVENT_TYPES = 20;
const FIRST_STEP_LATE_MS = 60_000;

export interface ReplayInput {
  readonly since: string;
  readonly until?: string;
  readonly eventTypes?: readonly string[];
  readonly status?: ReplayScope;
}

export type ReplayStepReport =
  | { readonly kind: 'advanced'; readonly task: ReplayTask; readonly queued: number; readonly nextInSeconds: number }
  | { readonly kind: 'finished'; readonly task: ReplayTask; readonly queued: number }
  | { readonly kind: 'resent'; readonly task: ReplayTask }
  | { readonly kind: 'dropped'; readonly reason: string };

export interface ReplayDeps {
  readonly tasks: ReplayTaskStore;
  readonly deliveries: Pick<DeliveryStore, 'replayPage' | 'getMany'>;
  readonly endpoints: Pick<EndpointStore, 'get'>;
  readonly queue: DeliveryQueue;
  readonly clock: Clock;
  readonly ids: IdGenerator;
}

/** The statuses a replay of this scope re-sends. */
export function replayedStatuses(scope: ReplayScope): readonly DeliveryStatus[] | 'all' {
  if (scope === 'all') return 'all';
  return scope === 'dead' ? ['dead'] : ['failed', 'dead'];
}

/** Whether a delivery in this status is still one the replay wants (checked again when its attempt runs). */
export function isReplayed(scope: ReplayScope, status: DeliveryStatus): boolean {
  const statuses = replayedStatuses(scope);
  return statuses === 'all' || statuses.includes(status);
}

export function isActive(task: ReplayTask): boolean {
  return task.status === 'queued' || task.status === 'running';
}

export class ReplayService {
  constructor(private readonly deps: ReplayDeps) {}

  /**
   * Starts a replay of the endpoint, or answers the one already under way if it was asked for
   * the same thing (`started: false`). One replay runs per endpoint at a time.
   */
  async start(tenantId: string, endpointId: string, input: ReplayInput): Promise<{ task: ReplayTask; started: boolean }> {
    const endpoint = await this.deps.endpoints.get(tenantId, endpointId);
    if (!endpoint) throw new NotFoundError('endpoint', endpointId);
    if (endpoint.disabled) throw new ConflictError(`endpoint ${endpointId} is disabled; enable it (PATCH {"disabled": false}) first`);
    const now = this.deps.clock.now();
    const request = this.requestOf(input, now);
    for (let round = 0; ; round++) {
      const lock = await this.deps.tasks.current(tenantId, endpointId);
      const current = lock?.task;
      const stalled = current !== undefined && isActive(current) && this.isStalled(current, now);
      if (current && isActive(current) && !stalled) {
        if (!sameRequest(current.request, request)) {
          throw new ConflictError(
            `replay ${current.id} of this endpoint is ${current.status}; wait for it to finish (GET /v1/tasks/${current.id}) or repeat the same request to follow it`,
          );
        }
        // A start whose first step is a minute late was probably lost (the queue refused it after the task was stored): send
        // it again. Should both arrive, the second finds the task past its step and is dropped.
        if (current.status === 'queued' && now.getTime() - Date.parse(current.createdAt) > FIRST_STEP_LATE_MS)
          await this.sendStep(current, 0);
        return { task: current, started: false };
      }
      const at = now.toISOString();
      const task: ReplayTask = {
        id: this.deps.ids.next('task', now),
        tenantId,
        kind: 'replay',
        endpointId,
        request,
        // A replay re-sends what was sent: deliveries made after it started have attempts of their own.
        until: request.until && Date.parse(request.until) < now.getTime() ? request.until : at,
        status: 'queued',
        counts: { scanned: 0, queued: 0 },
        step: 0,
        createdAt: at,
        updatedAt: at,
      };
      const abandoned: ReplayTask | undefined =
        current && stalled
          ? {
              ...current,
              status: 'failed',
              error: `stalled: no step ran for ${REPLAY_STALL_SECONDS / 60} minutes; replaced by ${task.id}`,
              updatedAt: at,
              finishedAt: at,
            }
          : undefined;
      if (await this.deps.tasks.start(task, lock?.taskId, abandoned)) {
        await this.sendStep(task, 0);
        return { task, started: true };
      }
      // Another start got there first: answer as if it had come before this one.
      if (round > 0) throw new ConflictError('another replay of this endpoint started at the same moment; repeat the request to see it');
    }
  }

  async get(tenantId: string, taskId: string): Promise<ReplayTask> {
    const task = hasPrefix(taskId, 'task') ? await this.deps.tasks.get(tenantId, taskId) : undefined;
    if (!task || task.tenantId !== tenantId) throw new NotFoundError('task', taskId);
    return task;
  }

  /**
   * One step of a task: the next page of deliveries, queued at the endpoint's pace, then the
   * next step for when they are done. A step whose number the task has passed is dropped, so a
   * step SQS hands out twice advances the task once. `receiveCount` is SQS's: above 1, this step
   * ran before and may have saved the task without sending the next step.
   */
  async step(job: ReplayStep, receiveCount: number): Promise<ReplayStepReport> {
    const task = await this.deps.tasks.get(job.tenantId, job.taskId);
    if (!task) return { kind: 'dropped', reason: 'no such task' };
    if (!isActive(task)) return { kind: 'dropped', reason: `the task is ${task.status}` };
    if (task.step !== job.step) {
      if (task.step === job.step + 1 && receiveCount > 1) {
        await this.sendStep(task, task.nextStepAt ? secondsUntil(task.nextStepAt, this.deps.clock.now()) : 0);
        return { kind: 'resent', task };
      }
      return { kind: 'dropped', reason: `the task is at step ${task.step}, not ${job.step}` };
    }
    try {
      return await this.advance(task);
    } catch (error) {
      if (receiveCount < REPLAY_STEP_MAX_RECEIVES) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      return this.finish(task, 'failed', 0, `step ${task.step} failed ${receiveCount} times; last error: ${reason.slice(0, 300)}`);
    }
  }

  private async advance(task: ReplayTask): Promise<ReplayStepReport> {
    const endpoint = await this.deps.endpoints.get(task.tenantId, task.endpointId);
    if (!endpoint) return this.finish(task, 'failed', 0, 'the endpoint was deleted');
    if (endpoint.disabled) return this.finish(task, 'failed', 0, 'the endpoint was disabled; replay again once it is enabled');
    const perSecond = endpoint.rateLimitPerSecond ?? DEFAULT_REPLAY_PER_SECOND;
    const limit = Math.min(REPLAY_PAGE_SIZE, perSecond * MAX_QUEUE_DELAY_SECONDS);
    const page = await this.deps.deliveries.replayPage(
      task.endpointId,
      replayedStatuses(task.request.status),
      {
        from: idFloor('delivery', new Date(task.request.since)),
        to: idCeiling('delivery', new Date(task.until)),
        ...(task.cursor && { after: task.cursor }),
      },
      limit,
    );
    const chosen = await this.ofTypes(page, task.request.eventTypes);
    const jobs = chosen.map(
      (entry): DeliveryJob => ({
        deliveryId: entry.id,
        tenantId: task.tenantId,
        messageId: messageIdOfDelivery(entry.id),
        endpointId: task.endpointId,
        trigger: 'manual',
        replay: { taskId: task.id, status: task.request.status },
      }),
    );
    // Spread over the page's span at the endpoint's pace; the worker's rate limiter still decides.
    if (jobs.length > 0)
      await this.deps.queue.enqueue(jobs, { lane: 'retry', delaysSeconds: jobs.map((_, i) => Math.floor(i / perSecond)) });
    const counts = { scanned: task.counts.scanned + page.length, queued: task.counts.queued + jobs.length };
    const last = page.at(-1);
    if (page.length < limit || !last) return this.finish({ ...task, counts }, 'done', jobs.length);
    const now = this.deps.clock.now();
    const nextInSeconds = Math.min(Math.ceil(jobs.length / perSecond), MAX_QUEUE_DELAY_SECONDS);
    const next: ReplayTask = {
      ...task,
      status: 'running',
      counts,
      step: task.step + 1,
      cursor: last.id,
      nextStepAt: addSeconds(now, nextInSeconds).toISOString(),
      updatedAt: now.toISOString(),
    };
    if (!(await this.deps.tasks.save(next, task.step))) return { kind: 'dropped', reason: 'another run of this step saved first' };
    await this.sendStep(next, nextInSeconds);
    return { kind: 'advanced', task: next, queued: jobs.length, nextInSeconds };
  }

  private async finish(task: ReplayTask, status: 'done' | 'failed', queued: number, error?: string): Promise<ReplayStepReport> {
    const at = this.deps.clock.now().toISOString();
    const { nextStepAt: _next, ...rest } = task;
    const finished: ReplayTask = { ...rest, status, step: task.step + 1, updatedAt: at, finishedAt: at, ...(error && { error }) };
    if (!(await this.deps.tasks.save(finished, task.step))) return { kind: 'dropped', reason: 'another run of this step saved first' };
    return { kind: 'finished', task: finished, queued };
  }

  /** Only the deliveries of the asked event types: their items say (the indexes do not carry it). */
  private async ofTypes(page: readonly DeliveryStatusEntry[], eventTypes: readonly string[] | undefined) {
    if (!eventTypes || page.length === 0) return page;
    const found = await this.deps.deliveries.getMany(page.map((entry) => entry.id));
    const wanted = new Set(eventTypes);
    return page.filter((entry) => {
      const delivery = found.get(entry.id);
      return delivery !== undefined && wanted.has(delivery.eventType);
    });
  }

  private sendStep(task: ReplayTask, delaySeconds: number): Promise<void> {
    const step: ReplayStep = { kind: 'replay', tenantId: task.tenantId, taskId: task.id, step: task.step };
    return this.deps.queue.enqueue([step], { lane: 'retry', delaySeconds });
  }

  private isStalled(task: ReplayTask, now: Date): boolean {
    return now.getTime() - Date.parse(task.nextStepAt ?? task.updatedAt) > REPLAY_STALL_SECONDS * 1000;
  }

  private requestOf(input: ReplayInput, now: Date): ReplayRequest {
    const since = new Date(input.since);
    const until = input.until === undefined ? undefined : new Date(input.until);
    if (Number.isNaN(since.getTime())) throw new ValidationError('`since` is not a date-time');
    if (since.getTime() > now.getTime()) throw new ValidationError('`since` is in the future');
    if (until && Number.isNaN(until.getTime())) throw new ValidationError('`until` is not a date-time');
    if (until && until.getTime() <= since.getTime()) throw new ValidationError('`until` must be after `since`');
    const eventTypes = input.eventTypes && [...new Set(input.eventTypes)].sort();
    if (eventTypes && eventTypes.length > MAX_REPLAY_EVENT_TYPES) {
      throw new ValidationError(`at most ${MAX_REPLAY_EVENT_TYPES} event types in one replay`);
    }
    return {
      since: since.toISOString(),
      ...(until && { until: until.toISOString() }),
      ...(eventTypes && eventTypes.length > 0 && { eventTypes }),
      status: input.status ?? 'failed',
    };
  }
}

function sameRequest(a: ReplayRequest, b: ReplayRequest): boolean {
  return (
    a.since === b.since &&
    a.until === b.until &&
    a.status === b.status &&
    (a.eventTypes ?? []).join('\n') === (b.eventTypes ?? []).join('\n')
  );
}
