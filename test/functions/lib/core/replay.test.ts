import { ConflictError, NotFoundError, ValidationError } from '../../../../functions/lib/core/errors.ts';
import { deliveryIdFor, ulidIdGenerator } from '../../../../functions/lib/core/ids.ts';
import { type DeliveryJob, isReplayStep, type ReplayStep } from '../../../../functions/lib/core/jobs.ts';
import type { Delivery, DeliveryStatus } from '../../../../functions/lib/core/model.ts';
import {
  DEFAULT_REPLAY_PER_SECOND,
  REPLAY_PAGE_SIZE,
  REPLAY_STALL_SECONDS,
  REPLAY_STEP_MAX_RECEIVES,
  ReplayService,
} from '../../../../functions/lib/core/replay.ts';
import {
  aDelivery,
  aMessage,
  anEndpoint,
  deliveryHarness,
  FakeClock,
  InMemoryDeliveryStore,
  InMemoryEndpointStore,
  InMemoryReplayTaskStore,
  jobFor,
  RecordingDeliveryQueue,
  T0,
  TENANT,
} from './fakes.ts';

const endpoint = anEndpoint({ id: 'ep_01JN000000000000000000RPL', rateLimitPerSecond: 100 });
const unlimited = anEndpoint({ id: 'ep_01JN000000000000000000UNL' });
const HOUR_AGO = new Date(T0.getTime() - 3_600_000).toISOString();

/** A delivery of a message created `secondsAgo` before T0 (delivery ids sort by their message's time). */
function deliveryAt(secondsAgo: number, overrides: Partial<Delivery> = {}): Delivery {
  const at = new Date(T0.getTime() - secondsAgo * 1000);
  const messageId = ulidIdGenerator(() => at.getTime()).next('message');
  const endpointId = overrides.endpointId ?? endpoint.id;
  return aDelivery({ id: deliveryIdFor(messageId, endpointId), messageId, endpointId, createdAt: at.toISOString(), ...overrides });
}

function setup(deliveries: readonly Delivery[] = []) {
  const store = new InMemoryDeliveryStore(deliveries);
  const endpoints = new InMemoryEndpointStore([endpoint, unlimited]);
  const tasks = new InMemoryReplayTaskStore();
  const queue = new RecordingDeliveryQueue();
  const clock = new FakeClock(T0);
  const service = new ReplayService({
    tasks,
    deliveries: store,
    endpoints,
    queue,
    clock,
    ids: ulidIdGenerator(() => clock.now().getTime()),
  });
  const steps = () => queue.tasks.filter(isReplayStep);
  const jobs = () => queue.tasks.filter((task): task is DeliveryJob => 'deliveryId' in task);
  /** Runs every step queued and not yet run, as the retry lane would, until the task is finished. */
  const runAll = async (taskId: string) => {
    for (let ran = 0; ran < 100; ran++) {
      const task = tasks.tasks.get(taskId);
      if (!task || (task.status !== 'queued' && task.status !== 'running')) return task;
      const step = steps().at(-1) as ReplayStep;
      await service.step(step, 1);
    }
    throw new Error('the task did not finish');
  };
  return { service, store, endpoints, tasks, queue, clock, steps, jobs, runAll };
}

describe('ReplayService.start', () => {
  test('stores a queued task, locks the endpoint to it and sends its first step to the retry lane', async () => {
    const s = setup();
    const { task, started } = await s.service.start(TENANT, endpoint.id, { since: HOUR_AGO });
    expect(started).toBe(true);
    expect(task).toMatchObject({
      kind: 'replay',
      tenantId: TENANT,
      endpointId: endpoint.id,
      status: 'queued',
      step: 0,
      counts: { scanned: 0, queued: 0 },
      request: { since: HOUR_AGO, status: 'failed' },
      until: T0.toISOString(),
    });
    expect(task.id).toMatch(/^task_[0-9A-Z]{26}$/);
    expect(s.tasks.locks.get(`${TENANT}|${endpoint.id}`)).toBe(task.id);
    expect(s.queue.calls).toEqual([
      { tasks: [{ kind: 'replay', tenantId: TENANT, taskId: task.id, step: 0 }], delaySeconds: 0, lane: 'retry' },
    ]);
  });

  test('the same request while a replay runs answers that task; a different one is a conflict', async () => {
    const s = setup();
    const first = await s.service.start(TENANT, endpoint.id, { since: HOUR_AGO, eventTypes: ['b', 'a'] });
    // The same instant in another notation, the same types in another order and repeated.
    const again = await s.service.start(TENANT, endpoint.id, { since: HOUR_AGO.replace('Z', '+00:00'), eventTypes: ['a', 'b', 'a'] });
    expect(again).toEqual({ task: first.task, started: false });
    await expect(s.service.start(TENANT, endpoint.id, { since: HOUR_AGO, status: 'all' })).rejects.toThrow(ConflictError);
    await expect(s.service.start(TENANT, endpoint.id, { since: HOUR_AGO, status: 'all' })).rejects.toThrow(
      `replay ${first.task.id} of this endpoint is queued`,
    );
    // Another endpoint is not held up by it.
    expect((await s.service.start(TENANT, unlimited.id, { since: HOUR_AGO, status: 'all' })).started).toBe(true);
  });

  test('once a replay is finished, a new one starts', async () => {
    const s = setup();
    const first = await s.service.start(TENANT, endpoint.id, { since: HOUR_AGO });
    await s.runAll(first.task.id);
    expect(s.tasks.tasks.get(first.task.id)?.status).toBe('done');
    const second = await s.service.start(TENANT, endpoint.id, { since: HOUR_AGO });
    expect(second.started).toBe(true);
    expect(second.task.id).not.toBe(first.task.id);
  });

  test('a stalled replay is marked failed and replaced', async () => {
    const s = setup();
    const first = await s.service.start(TENANT, endpoint.id, { since: HOUR_AGO });
    s.clock.advance((REPLAY_STALL_SECONDS + 1) * 1000);
    const second = await s.service.start(TENANT, endpoint.id, { since: HOUR_AGO, status: 'dead' });
    expect(second.started).toBe(true);
    expect(s.tasks.tasks.get(first.task.id)).toMatchObject({
      status: 'failed',
      error: `stalled: no step ran for 15 minutes; replaced by ${second.task.id}`,
    });
    // The stalled task's lost step, should it turn up, changes nothing.
    expect(await s.service.step({ kind: 'replay', tenantId: TENANT, taskId: first.task.id, step: 0 }, 1)).toEqual({
      kind: 'dropped',
      reason: 'the task is failed',
    });
  });

  test('a repeat of a start whose first step is a minute late sends the step again', async () => {
    const s = setup();
    await s.service.start(TENANT, endpoint.id, { since: HOUR_AGO });
    await s.service.start(TENANT, endpoint.id, { since: HOUR_AGO });
    expect(s.steps()).toHaveLength(1);
    s.clock.advance(61_000);
    await s.service.start(TENANT, endpoint.id, { since: HOUR_AGO });
    expect(s.steps().map((step) => step.step)).toEqual([0, 0]);
  });

  test.each([
    [{ since: new Date(T0.getTime() + 60_000).toISOString() }, '`since` is in the future'],
    [{ since: HOUR_AGO, until: HOUR_AGO }, '`until` must be after `since`'],
    [{ since: HOUR_AGO, eventTypes: Array.from({ length: 21 }, (_, i) => `t${i}`) }, 'at most 20 event types in one replay'],
  ])('refuses %j: %s', async (input, message) => {
    const s = setup();
    await expect(s.service.start(TENANT, endpoint.id, input)).rejects.toThrow(new ValidationError(message));
    expect(s.queue.calls).toEqual([]);
  });

  test('an unknown, foreign or disabled endpoint is refused', async () => {
    const s = setup();
    await expect(s.service.start(TENANT, 'ep_nope', { since: HOUR_AGO })).rejects.toThrow(NotFoundError);
    await expect(s.service.start('ten_other', endpoint.id, { since: HOUR_AGO })).rejects.toThrow(NotFoundError);
    await s.endpoints.update({ ...endpoint, disabled: true });
    await expect(s.service.start(TENANT, endpoint.id, { since: HOUR_AGO })).rejects.toThrow(ConflictError);
  });

  test('get answers a task of the tenant only', async () => {
    const s = setup();
    const { task } = await s.service.start(TENANT, endpoint.id, { since: HOUR_AGO });
    expect(await s.service.get(TENANT, task.id)).toEqual(task);
    await expect(s.service.get('ten_other', task.id)).rejects.toThrow(NotFoundError);
    await expect(s.service.get(TENANT, 'dlv_1')).rejects.toThrow(NotFoundError);
  });
});

describe('ReplayService.step', () => {
  test('pages through the deliveries oldest first, paced at the endpoint’s rate, each queued once, then done', async () => {
    const total = REPLAY_PAGE_SIZE * 2 + 200;
    const deliveries = Array.from({ length: total }, (_, i) => deliveryAt(total - i, { status: 'dead', attemptCount: 2 }));
    const s = setup(deliveries);
    const { task } = await s.service.start(TENANT, endpoint.id, { since: HOUR_AGO });

    const first = await s.service.step(s.steps()[0] as ReplayStep, 1);
    expect(first).toMatchObject({ kind: 'advanced', queued: REPLAY_PAGE_SIZE, nextInSeconds: REPLAY_PAGE_SIZE / 100 });
    const page = s.queue.calls[1];
    expect(page?.lane).toBe('retry');
    // 100 a second: the first hundred at once, the next a second later, and so on.
    expect(page?.delaysSeconds?.slice(98, 102)).toEqual([0, 0, 1, 1]);
    expect(page?.delaysSeconds?.at(-1)).toBe(4);
    // The next step comes when this page is done.
    expect(s.queue.calls[2]).toEqual({
      tasks: [{ kind: 'replay', tenantId: TENANT, taskId: task.id, step: 1 }],
      delaySeconds: 5,
      lane: 'retry',
    });
    expect(s.tasks.tasks.get(task.id)).toMatchObject({ status: 'running', step: 1, counts: { scanned: 500, queued: 500 } });

    const finished = await s.runAll(task.id);
    expect(finished).toMatchObject({ status: 'done', counts: { scanned: total, queued: total }, finishedAt: T0.toISOString() });
    const queuedIds = s.jobs().map((job) => job.deliveryId);
    expect(queuedIds).toEqual(deliveries.map((d) => d.id));
    expect(s.jobs()[0]).toEqual({
      deliveryId: deliveries[0]?.id,
      tenantId: TENANT,
      messageId: deliveries[0]?.messageId,
      endpointId: endpoint.id,
      trigger: 'manual',
      replay: { taskId: task.id, status: 'failed' },
    });
  });

  test('an endpoint with no rate limit is replayed at the default pace', async () => {
    const deliveries = Array.from({ length: 120 }, (_, i) => deliveryAt(120 - i, { endpointId: unlimited.id, status: 'failed' }));
    const s = setup(deliveries);
    const { task } = await s.service.start(TENANT, unlimited.id, { since: HOUR_AGO });
    await s.runAll(task.id);
    const delays = s.queue.calls[1]?.delaysSeconds ?? [];
    expect(delays.filter((d) => d === 0)).toHaveLength(DEFAULT_REPLAY_PER_SECOND);
    expect(Math.max(...delays)).toBe(2);
  });

  test.each<[string, 'failed' | 'dead' | 'all', DeliveryStatus[]]>([
    ['failed: failing and dead', 'failed', ['failed', 'dead']],
    ['dead only', 'dead', ['dead']],
    ['all', 'all', ['pending', 'succeeded', 'failed', 'dead', 'acknowledged']],
  ])('status %s', async (_name, status, replayed) => {
    const statuses: DeliveryStatus[] = ['pending', 'succeeded', 'failed', 'dead', 'acknowledged'];
    const deliveries = statuses.map((st, i) => deliveryAt(100 - i, { status: st }));
    const s = setup(deliveries);
    const { task } = await s.service.start(TENANT, endpoint.id, { since: HOUR_AGO, status });
    await s.runAll(task.id);
    const byId = new Map(deliveries.map((d) => [d.id, d.status]));
    expect(s.jobs().map((job) => byId.get(job.deliveryId))).toEqual(replayed);
  });

  test('only deliveries of messages created in [since, until), of the asked event types', async () => {
    const inside = deliveryAt(1800, { status: 'dead', eventType: 'lock.unlocked' });
    const otherType = deliveryAt(1700, { status: 'dead', eventType: 'lock.locked' });
    const tooOld = deliveryAt(7200, { status: 'dead', eventType: 'lock.unlocked' });
    const tooNew = deliveryAt(60, { status: 'dead', eventType: 'lock.unlocked' });
    const otherEndpoint = deliveryAt(1600, { status: 'dead', eventType: 'lock.unlocked', endpointId: unlimited.id });
    const s = setup([inside, otherType, tooOld, tooNew, otherEndpoint]);
    const until = new Date(T0.getTime() - 600_000).toISOString();
    const { task } = await s.service.start(TENANT, endpoint.id, { since: HOUR_AGO, until, eventTypes: ['lock.unlocked'] });
    expect(task.until).toBe(until);
    const finished = await s.runAll(task.id);
    expect(s.jobs().map((job) => job.deliveryId)).toEqual([inside.id]);
    // Scanned counts what the range held; queued, what the event types let through.
    expect(finished?.counts).toEqual({ scanned: 2, queued: 1 });
  });

  test('a step SQS hands out twice advances the task once and sends one next step', async () => {
    const deliveries = Array.from({ length: REPLAY_PAGE_SIZE + 1 }, (_, i) => deliveryAt(1000 - i, { status: 'dead' }));
    const s = setup(deliveries);
    await s.service.start(TENANT, endpoint.id, { since: HOUR_AGO });
    const step = s.steps()[0] as ReplayStep;
    await s.service.step(step, 1);
    expect(await s.service.step(step, 1)).toEqual({ kind: 'dropped', reason: 'the task is at step 1, not 0' });
    expect(s.steps().map((x) => x.step)).toEqual([0, 1]);
  });

  test('a redelivered step that saved the task but did not send the next step sends it, due when it was due', async () => {
    const deliveries = Array.from({ length: REPLAY_PAGE_SIZE + 1 }, (_, i) => deliveryAt(1000 - i, { status: 'dead' }));
    const s = setup(deliveries);
    await s.service.start(TENANT, endpoint.id, { since: HOUR_AGO });
    const step = s.steps()[0] as ReplayStep;
    s.queue.calls.length = 0;
    // The save went through; the send of step 1 did not (the queue failed after the page was queued).
    const page = s.queue.enqueue.bind(s.queue);
    let sends = 0;
    s.queue.enqueue = async (tasks, options) => {
      if (sends++ === 1) throw new Error('SQS unavailable');
      return page(tasks, options);
    };
    await expect(s.service.step(step, 1)).rejects.toThrow('SQS unavailable');
    s.queue.enqueue = page;
    s.clock.advance(2000);
    const report = await s.service.step(step, 2);
    expect(report.kind).toBe('resent');
    expect(s.queue.calls.at(-1)).toEqual({
      tasks: [{ kind: 'replay', tenantId: TENANT, taskId: expect.any(String), step: 1 }],
      delaySeconds: 3,
      lane: 'retry',
    });
  });

  test('a step that keeps failing marks its task failed before the step would go to the DLQ', async () => {
    const s = setup([deliveryAt(100, { status: 'dead' })]);
    const { task } = await s.service.start(TENANT, endpoint.id, { since: HOUR_AGO });
    s.store.replayPage = async () => {
      throw new Error('ProvisionedThroughputExceededException');
    };
    const step = s.steps()[0] as ReplayStep;
    await expect(s.service.step(step, REPLAY_STEP_MAX_RECEIVES - 1)).rejects.toThrow('ProvisionedThroughputExceededException');
    expect(await s.service.step(step, REPLAY_STEP_MAX_RECEIVES)).toMatchObject({ kind: 'finished' });
    expect(s.tasks.tasks.get(task.id)).toMatchObject({
      status: 'failed',
      error: 'step 0 failed 4 times; last error: ProvisionedThroughputExceededException',
    });
  });

  test('an endpoint deleted or disabled while its replay runs fails the task and queues nothing more', async () => {
    const deliveries = Array.from({ length: REPLAY_PAGE_SIZE + 1 }, (_, i) => deliveryAt(1000 - i, { status: 'dead' }));
    const s = setup(deliveries);
    const { task } = await s.service.start(TENANT, endpoint.id, { since: HOUR_AGO });
    await s.service.step(s.steps()[0] as ReplayStep, 1);
    await s.endpoints.update({ ...endpoint, disabled: true });
    await s.service.step(s.steps()[1] as ReplayStep, 1);
    expect(s.tasks.tasks.get(task.id)).toMatchObject({
      status: 'failed',
      error: 'the endpoint was disabled; replay again once it is enabled',
      counts: { scanned: REPLAY_PAGE_SIZE, queued: REPLAY_PAGE_SIZE },
    });
    expect(s.jobs()).toHaveLength(REPLAY_PAGE_SIZE);
  });
});

describe('a replay attempt in the delivery worker', () => {
  const dead = aDelivery({ status: 'dead', attemptCount: 3, scheduledAttempts: 3, lastStatusCode: 500 });
  const { nextAttemptAt: _n, ...deadDelivery } = dead;
  const replayJob = (status: 'failed' | 'dead' | 'all' = 'failed'): DeliveryJob => ({
    ...jobFor(deadDelivery),
    trigger: 'manual',
    replay: { taskId: 'task_01JN00000000000000000000TK', status },
  });

  test('attempts once, as a manual attempt that revives the delivery; a second copy of the job is skipped', async () => {
    const h = deliveryHarness({ delivery: deadDelivery, message: aMessage() });
    const first = await h.run(replayJob(), 'retry');
    expect(first).toMatchObject({ kind: 'attempted', attempt: { attempt: 4, trigger: 'manual' }, delivery: { status: 'succeeded' } });
    expect(h.sender.requests).toHaveLength(1);
    const second = await h.run(replayJob(), 'retry');
    expect(second).toEqual({
      kind: 'skipped',
      deliveryId: deadDelivery.id,
      reason: 'replay of failed deliveries, and this one is succeeded now',
    });
    expect(h.sender.requests).toHaveLength(1);
  });

  test('two copies racing past the status check: only the one that claims first attempts', async () => {
    const h = deliveryHarness({ delivery: deadDelivery, message: aMessage(), answer: { durationMs: 5, statusCode: 500 } });
    const job = replayJob('all');
    const context = await h.service.prepare([
      { task: job, receiveCount: 1 },
      { task: job, receiveCount: 2 },
    ]);
    const reports = await Promise.all([h.service.run(job, context.ledger, 'retry'), h.service.run(job, context.ledger, 'retry')]);
    expect(reports.map((r) => r.kind).sort()).toEqual(['attempted', 'skipped']);
    expect(h.sender.requests).toHaveLength(1);
    // A failed replay attempt leaves a dead delivery dead; a later replay may try it again (its state moved on).
    expect(h.stored()).toMatchObject({ status: 'dead', attemptCount: 4 });
    expect(await h.run(job, 'retry')).toMatchObject({ kind: 'attempted', attempt: { attempt: 5 } });
  });

  test('a replay job held back by the endpoint’s rate limit does not claim, so it is attempted when it comes back', async () => {
    const h = deliveryHarness({ delivery: deadDelivery, message: aMessage(), endpoint: anEndpoint({ rateLimitPerSecond: 1 }) });
    await h.rateLimiter.tryAcquire({ endpointId: deadDelivery.endpointId }, 1, h.clock.now());
    expect(await h.run(replayJob(), 'retry')).toMatchObject({ kind: 'throttled' });
    h.clock.advance(1000);
    expect(await h.run(replayJob(), 'retry')).toMatchObject({ kind: 'attempted' });
  });

  test('the step itself is not a delivery job: the worker leaves it to the replay service', async () => {
    const h = deliveryHarness();
    const step: ReplayStep = { kind: 'replay', tenantId: TENANT, taskId: 'task_x', step: 0 };
    await h.service.prepare([{ task: step, receiveCount: 1 }]);
    expect(h.loader.loadCalls).toEqual([]);
  });
});
