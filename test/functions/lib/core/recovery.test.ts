import { DeliveryService } from '../../../../functions/lib/core/delivery.ts';
import { EndpointDirectory } from '../../../../functions/lib/core/endpoint-directory.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../../../functions/lib/core/errors.ts';
import { deliveryIdFor, idFloor, ulidIdGenerator } from '../../../../functions/lib/core/ids.ts';
import { jobOf } from '../../../../functions/lib/core/jobs.ts';
import type { Delivery } from '../../../../functions/lib/core/model.ts';
import { MAX_RECOVERY_BATCH, RecoveryService } from '../../../../functions/lib/core/recovery.ts';
import {
  aDelivery,
  aMessage,
  anEndpoint,
  FakeClock,
  FakeRateLimiter,
  InMemoryDeliveryStore,
  InMemoryEndpointStore,
  InMemoryMessageStore,
  jobFor,
  RecordingDeliveryQueue,
  RecordingSystemEventPublisher,
  ScriptedHttpSender,
  SnapshotContextLoader,
  T0,
  TENANT,
} from './fakes.ts';

const OTHER_TENANT = 'ten_01JN00000000000000000OTHER';
const endpoint = anEndpoint({ id: 'ep_01JN0000000000000000000ON' });
const disabled = anEndpoint({ id: 'ep_01JN000000000000000000OFF', disabled: true, disabledReason: 'by hand' });
const foreign = anEndpoint({ id: 'ep_01JN00000000000000000FRGN', tenantId: OTHER_TENANT });

function setup(deliveries: readonly Delivery[] = []) {
  const store = new InMemoryDeliveryStore(deliveries);
  const endpoints = new InMemoryEndpointStore([endpoint, disabled, foreign]);
  const queue = new RecordingDeliveryQueue();
  const clock = new FakeClock(T0);
  const service = new RecoveryService({ deliveries: store, endpoints, queue, clock });
  return { service, store, endpoints, queue, clock };
}

/** The delivery to an endpoint of a message created at `createdAt` (ids carry the message's time). */
function deliveryAt(createdAt: Date, overrides: Partial<Delivery> = {}): Delivery {
  const messageId = ulidIdGenerator(() => createdAt.getTime()).next('message');
  const endpointId = overrides.endpointId ?? endpoint.id;
  return aDelivery({
    id: deliveryIdFor(messageId, endpointId),
    messageId,
    endpointId,
    createdAt: createdAt.toISOString(),
    ...overrides,
  });
}

const minutesAgo = (minutes: number) => new Date(T0.getTime() - minutes * 60_000);
const numbered = (n: number, overrides: Partial<Delivery> = {}) =>
  aDelivery({ id: `dlv_01JN${String(n).padStart(22, '0')}`, endpointId: endpoint.id, ...overrides });

describe('RecoveryService.retry', () => {
  test('enqueues one manual job on the retry lane and changes nothing in the ledger', async () => {
    const delivery = aDelivery({ endpointId: endpoint.id, status: 'failed', attemptCount: 3, nextAttemptAt: '2025-03-01T14:00:00.000Z' });
    const s = setup([delivery]);
    expect(await s.service.retry(TENANT, delivery.id)).toEqual(delivery);
    expect(s.queue.calls).toEqual([{ tasks: [jobFor(delivery, 'manual')], delaySeconds: undefined, lane: 'retry' }]);
    expect(s.store.updateCalls).toEqual([]);
    expect(s.store.deliveries.get(delivery.id)).toEqual(delivery);
  });

  test('works whatever the state of the delivery (a dead one too)', async () => {
    const { nextAttemptAt: _none, ...dead } = aDelivery({ endpointId: endpoint.id, status: 'dead', attemptCount: 8 });
    const s = setup([dead]);
    await s.service.retry(TENANT, dead.id);
    expect(s.queue.jobs).toEqual([jobFor(dead, 'manual')]);
  });

  test("another tenant's delivery, or none, is a 404", async () => {
    const theirs = aDelivery({ tenantId: OTHER_TENANT, endpointId: foreign.id });
    const s = setup([theirs]);
    await expect(s.service.retry(TENANT, theirs.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.service.retry(TENANT, 'dlv_01JN000000000000000000NONE')).rejects.toBeInstanceOf(NotFoundError);
    expect(s.queue.calls).toEqual([]);
  });

  test('a 409 when the endpoint is disabled or deleted', async () => {
    const paused = aDelivery({ id: 'dlv_01JN000000000000000000PAUS', endpointId: disabled.id });
    const orphan = aDelivery({ id: 'dlv_01JN000000000000000000ORPH', endpointId: 'ep_01JN00000000000000000GONE' });
    const s = setup([paused, orphan]);
    await expect(s.service.retry(TENANT, paused.id)).rejects.toThrow(ConflictError);
    await expect(s.service.retry(TENANT, paused.id)).rejects.toThrow(/disabled/);
    await expect(s.service.retry(TENANT, orphan.id)).rejects.toThrow(ConflictError);
    await expect(s.service.retry(TENANT, orphan.id)).rejects.toThrow(/deleted/);
    expect(s.queue.calls).toEqual([]);
  });
});

describe('RecoveryService.recover', () => {
  const since = minutesAgo(60);

  test('re-sends the failed and dead deliveries of the endpoint created since the given time, newest first', async () => {
    const justBefore = deliveryAt(new Date(since.getTime() - 1), { status: 'failed', attemptCount: 2 });
    const atSince = deliveryAt(since, { status: 'dead', attemptCount: 8 });
    const later = deliveryAt(minutesAgo(30), { status: 'failed', attemptCount: 1 });
    const pending = deliveryAt(minutesAgo(20), { status: 'pending' });
    const succeeded = deliveryAt(minutesAgo(10), { status: 'succeeded', attemptCount: 1 });
    const elsewhere = deliveryAt(minutesAgo(5), { status: 'failed', endpointId: 'ep_01JN0000000000000000000EL' });
    const s = setup([justBefore, atSince, later, pending, succeeded, elsewhere]);
    expect(await s.service.recover(TENANT, endpoint.id, since)).toEqual({ queued: 2, truncated: false });
    expect(s.queue.calls).toEqual([
      { tasks: [jobFor(later, 'manual'), jobFor(atSince, 'manual')], delaySeconds: undefined, lane: 'retry' },
    ]);
    expect(s.store.listAllCalls).toEqual([{ endpointId: endpoint.id, statuses: ['failed', 'dead'], sinceId: idFloor('delivery', since) }]);
    expect(s.store.updateCalls).toEqual([]);
  });

  test(`past ${MAX_RECOVERY_BATCH}: the newest ${MAX_RECOVERY_BATCH} are queued and the answer says more remain`, async () => {
    expect(MAX_RECOVERY_BATCH).toBe(1000);
    const many = Array.from({ length: 1001 }, (_, i) => deliveryAt(new Date(since.getTime() + i * 1000), { status: 'failed' }));
    const s = setup(many);
    expect(await s.service.recover(TENANT, endpoint.id, since)).toEqual({ queued: 1000, truncated: true });
    const queued = new Set(s.queue.jobs.map((j) => j.deliveryId));
    expect(queued.size).toBe(1000);
    expect(queued.has(many[0]?.id ?? '')).toBe(false);
    expect(s.queue.jobs.every((j) => j.trigger === 'manual')).toBe(true);
  });

  test(`exactly ${MAX_RECOVERY_BATCH}: all queued, not truncated`, async () => {
    const many = Array.from({ length: 1000 }, (_, i) => deliveryAt(new Date(since.getTime() + i * 1000), { status: 'dead' }));
    const s = setup(many);
    expect(await s.service.recover(TENANT, endpoint.id, since)).toEqual({ queued: 1000, truncated: false });
  });

  test('nothing to recover', async () => {
    const s = setup([deliveryAt(minutesAgo(90), { status: 'dead' })]);
    expect(await s.service.recover(TENANT, endpoint.id, since)).toEqual({ queued: 0, truncated: false });
    expect(s.queue.jobs).toEqual([]);
  });

  test("an unknown or another tenant's endpoint is a 404", async () => {
    const s = setup();
    await expect(s.service.recover(TENANT, 'ep_01JN00000000000000000NONE', since)).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.service.recover(TENANT, foreign.id, since)).rejects.toBeInstanceOf(NotFoundError);
    expect(s.queue.calls).toEqual([]);
  });

  test('`since` in the future is invalid', async () => {
    const s = setup();
    await expect(s.service.recover(TENANT, endpoint.id, new Date(T0.getTime() + 1))).rejects.toBeInstanceOf(ValidationError);
    await expect(s.service.recover(TENANT, endpoint.id, T0)).resolves.toEqual({ queued: 0, truncated: false });
  });

  test('a disabled endpoint is a 409: enable it first', async () => {
    const s = setup([deliveryAt(minutesAgo(5), { status: 'failed', endpointId: disabled.id })]);
    await expect(s.service.recover(TENANT, disabled.id, since)).rejects.toBeInstanceOf(ConflictError);
    expect(s.queue.jobs).toEqual([]);
  });
});

describe('RecoveryService.deadLetters', () => {
  test("lists the tenant's dead deliveries, newest first, a page at a time", async () => {
    const s = setup([
      numbered(1, { status: 'dead' }),
      numbered(2, { status: 'failed' }),
      numbered(3, { status: 'dead' }),
      numbered(4, { status: 'dead' }),
      numbered(5, { status: 'dead', tenantId: OTHER_TENANT, endpointId: foreign.id }),
    ]);
    const listDead = jest.spyOn(s.store, 'listDead');
    const first = await s.service.deadLetters(TENANT, {}, { limit: 2 });
    expect(first.items.map((d) => d.id)).toEqual([numbered(4).id, numbered(3).id]);
    expect(first.nextCursor).toBeDefined();
    const second = await s.service.deadLetters(TENANT, {}, { limit: 2, ...(first.nextCursor && { cursor: first.nextCursor }) });
    expect(second.items.map((d) => d.id)).toEqual([numbered(1).id]);
    expect(second.nextCursor).toBeUndefined();
    // The ledger's dead-letter index of the tenant, page by page.
    expect(listDead.mock.calls).toEqual([
      [TENANT, {}, { limit: 2 }],
      [TENANT, {}, { limit: 2, cursor: first.nextCursor }],
    ]);
  });
});

describe('RecoveryService.deadLetters narrowed', () => {
  const other = anEndpoint({ id: 'ep_01JN000000000000000000TWO' });
  const older = deliveryAt(minutesAgo(120), { status: 'dead' });
  const newer = deliveryAt(minutesAgo(10), { status: 'dead' });
  const elsewhere = deliveryAt(minutesAgo(60), { status: 'dead', endpointId: other.id });
  const stillFailing = deliveryAt(minutesAgo(5), { status: 'failed' });

  async function narrowed() {
    const s = setup([older, newer, elsewhere, stillFailing]);
    await s.endpoints.create(other);
    return s;
  }

  test('by endpoint: only its dead deliveries, read from its own dead list', async () => {
    const s = await narrowed();
    const listByEndpoint = jest.spyOn(s.store, 'listByEndpoint');
    const page = await s.service.deadLetters(TENANT, { endpointId: endpoint.id }, { limit: 10 });
    expect(page.items.map((d) => d.id)).toEqual([newer.id, older.id]);
    expect(listByEndpoint.mock.calls).toEqual([[endpoint.id, { status: 'dead' }, { limit: 10 }]]);
  });

  test('by time: created in [after, before)', async () => {
    const s = await narrowed();
    const recent = await s.service.deadLetters(TENANT, { after: minutesAgo(90) }, { limit: 10 });
    expect(recent.items.map((d) => d.id)).toEqual([newer.id, elsewhere.id]);
    const window = { after: minutesAgo(120), before: minutesAgo(10) };
    expect((await s.service.deadLetters(TENANT, window, { limit: 10 })).items.map((d) => d.id)).toEqual([elsewhere.id, older.id]);
    const both = await s.service.deadLetters(TENANT, { endpointId: endpoint.id, before: minutesAgo(60) }, { limit: 10 });
    expect(both.items.map((d) => d.id)).toEqual([older.id]);
  });

  test("another tenant's endpoint, or none, is a 404; an inverted window a 400", async () => {
    const s = await narrowed();
    await expect(s.service.deadLetters(TENANT, { endpointId: foreign.id }, { limit: 10 })).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.service.deadLetters(TENANT, { endpointId: 'ep_01JN00000000000000000NONE' }, { limit: 10 })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(s.service.deadLetters(TENANT, { after: minutesAgo(1), before: minutesAgo(2) }, { limit: 10 })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });
});

describe('RecoveryService.redrive', () => {
  const revived = (delivery: Delivery): Delivery => {
    const { lastError: _error, ...rest } = delivery;
    return { ...rest, status: 'pending', scheduledAttempts: 0, nextAttemptAt: T0.toISOString(), updatedAt: T0.toISOString() };
  };

  test('with ids: the dead ones come back pending with a fresh schedule and a manual job; the rest are skipped, with reasons', async () => {
    const dead1 = numbered(1, { status: 'dead', attemptCount: 8, lastStatusCode: 500, lastError: 'HTTP 500', nextAttemptAt: undefined });
    const dead2 = numbered(2, { status: 'dead', attemptCount: 5, scheduledAttempts: 5, nextAttemptAt: undefined });
    const failed = numbered(3, { status: 'failed', attemptCount: 1 });
    const theirs = numbered(4, { status: 'dead', tenantId: OTHER_TENANT, endpointId: foreign.id });
    const paused = numbered(5, { status: 'dead', endpointId: disabled.id });
    const orphan = numbered(6, { status: 'dead', endpointId: 'ep_01JN00000000000000000GONE' });
    const missing = numbered(7).id;
    const s = setup([dead1, dead2, failed, theirs, paused, orphan]);

    const result = await s.service.redrive(TENANT, [dead1.id, failed.id, theirs.id, missing, paused.id, orphan.id, dead2.id]);
    expect(result.redriven).toEqual([dead1.id, dead2.id]);
    const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
    expect([...result.skipped].sort(byId)).toEqual(
      [
        { id: failed.id, reason: 'status is failed, not dead' },
        { id: theirs.id, reason: 'not found' },
        { id: paused.id, reason: 'endpoint is disabled' },
        { id: orphan.id, reason: 'endpoint was deleted' },
        { id: missing, reason: 'not found' },
      ].sort(byId),
    );
    expect(s.store.deliveries.get(dead1.id)).toEqual(revived(dead1));
    expect(s.store.deliveries.get(dead1.id)).toMatchObject({ attemptCount: 8, lastStatusCode: 500 });
    expect(s.store.deliveries.get(dead2.id)).toEqual(revived(dead2));
    for (const untouched of [failed, theirs, paused, orphan]) expect(s.store.deliveries.get(untouched.id)).toEqual(untouched);
    expect(s.queue.calls).toEqual([{ tasks: [jobFor(dead1, 'manual'), jobFor(dead2, 'manual')], delaySeconds: undefined, lane: 'retry' }]);
  });

  test('nothing to redrive: nothing enqueued', async () => {
    const s = setup([numbered(1, { status: 'failed' })]);
    expect(await s.service.redrive(TENANT, [numbered(1).id])).toEqual({
      redriven: [],
      skipped: [{ id: numbered(1).id, reason: 'status is failed, not dead' }],
    });
    expect(s.queue.calls).toEqual([]);
  });

  test("without ids: every dead delivery of the tenant, across pages, and no one else's", async () => {
    const dead = Array.from({ length: 150 }, (_, i) => numbered(i, { status: 'dead', attemptCount: 8 }));
    const theirs = numbered(500, { status: 'dead', tenantId: OTHER_TENANT, endpointId: foreign.id });
    const failed = numbered(501, { status: 'failed' });
    const s = setup([...dead, theirs, failed]);
    const listDead = jest.spyOn(s.store, 'listDead');
    const result = await s.service.redrive(TENANT);
    // Two pages of the tenant's dead letters (100 a page).
    expect(listDead.mock.calls.map(([tenantId, , page]) => [tenantId, page.limit, page.cursor !== undefined])).toEqual([
      [TENANT, 100, false],
      [TENANT, 100, true],
    ]);
    expect([...result.redriven].sort()).toEqual(dead.map((d) => d.id).sort());
    expect(result.skipped).toEqual([]);
    for (const d of dead) expect(s.store.deliveries.get(d.id)).toEqual(revived(d));
    expect(s.store.deliveries.get(theirs.id)?.status).toBe('dead');
    expect(s.store.deliveries.get(failed.id)?.status).toBe('failed');
    expect(s.queue.jobsOn('retry')).toHaveLength(150);
    expect(s.queue.jobs.every((j) => j.trigger === 'manual')).toBe(true);
  });

  test(`without ids: at most ${MAX_RECOVERY_BATCH} a call, newest first`, async () => {
    const dead = Array.from({ length: 1005 }, (_, i) => numbered(i, { status: 'dead' }));
    const s = setup(dead);
    const result = await s.service.redrive(TENANT);
    expect(result.redriven).toHaveLength(1000);
    const stillDead = [...s.store.deliveries.values()].filter((d) => d.status === 'dead').map((d) => d.id);
    expect(stillDead.sort()).toEqual(dead.slice(0, 5).map((d) => d.id));
  });

  test('a delivery that changed between the read and the write is skipped, not overwritten', async () => {
    const dead = numbered(1, { status: 'dead', attemptCount: 8 });
    const s = setup([dead]);
    const update = s.store.update.bind(s.store);
    // A manual attempt lands first.
    s.store.update = async (next, previous) => {
      s.store.deliveries.set(dead.id, { ...dead, status: 'succeeded', attemptCount: 9 });
      return update(next, previous);
    };
    const result = await s.service.redrive(TENANT, [dead.id]);
    expect(result).toEqual({ redriven: [], skipped: [{ id: dead.id, reason: 'changed meanwhile' }] });
    expect(s.store.deliveries.get(dead.id)?.status).toBe('succeeded');
    expect(s.queue.calls).toEqual([]);
  });

  test('a redriven delivery whose manual attempt fails follows the schedule from its first delay', async () => {
    const message = aMessage();
    const dead = aDelivery({ endpointId: endpoint.id, status: 'dead', attemptCount: 8, nextAttemptAt: undefined });
    const s = setup([dead]);
    await s.service.redrive(TENANT, [dead.id]);
    const endpoints = new InMemoryEndpointStore([endpoint]);
    const queue = new RecordingDeliveryQueue();
    const delivery = new DeliveryService({
      deliveries: s.store,
      endpointStore: endpoints,
      endpoints: new EndpointDirectory(endpoints, s.clock, 0),
      loader: new SnapshotContextLoader(s.store, endpoints, new InMemoryMessageStore([message])),
      queue,
      sender: new ScriptedHttpSender({ durationMs: 3, statusCode: 500 }),
      rateLimiter: new FakeRateLimiter(),
      systemEvents: new RecordingSystemEventPublisher(),
      messages: new InMemoryMessageStore(),
      clock: s.clock,
      random: () => 0.5,
    });
    const [job] = s.queue.jobs;
    if (!job) throw new Error('no job was enqueued');
    const report = await delivery.run(job, (await delivery.prepare([{ task: job, receiveCount: 1 }])).ledger, 'retry');
    expect(report).toMatchObject({ kind: 'attempted', retryInSeconds: 5 });
    expect(s.store.deliveries.get(dead.id)).toMatchObject({ status: 'failed', attemptCount: 9, scheduledAttempts: 1 });
    expect(queue.calls).toEqual([{ tasks: [jobOf(dead)], delaySeconds: 5, lane: 'retry' }]);
  });
});
