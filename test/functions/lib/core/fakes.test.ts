import type { Attempt } from '../../../../functions/lib/core/model.ts';
import {
  aDelivery,
  anEndpoint,
  FakeClock,
  FakeRateLimiter,
  InMemoryDeliveryStore,
  InMemoryDueWorkIndex,
  InMemoryEndpointStore,
  InMemoryMessageStore,
  RecordingDeliveryQueue,
  T0,
  TENANT,
} from './fakes.ts';

// The fakes stand in for the DynamoDB adapters in every core test, so their conditional
// semantics are checked here against the port contract (ports.ts).

function attemptNo(n: number): Attempt {
  return {
    deliveryId: aDelivery().id,
    attempt: n,
    trigger: 'scheduled',
    startedAt: T0.toISOString(),
    durationMs: 5,
    statusCode: 500,
    outcome: 'failed',
  };
}

describe('InMemoryDeliveryStore (fake of DeliveryStore)', () => {
  test('createMany creates only the deliveries that do not exist yet', async () => {
    const store = new InMemoryDeliveryStore([aDelivery({ id: 'dlv_A' })]);
    const created = await store.createMany([aDelivery({ id: 'dlv_A', status: 'dead' }), aDelivery({ id: 'dlv_B' })]);
    expect(created).toEqual(['dlv_B']);
    expect(store.deliveries.get('dlv_A')?.status).toBe('pending');
  });

  test('recordAttempt writes the attempt and the new state when the ledger still holds `previous`', async () => {
    const previous = aDelivery();
    const store = new InMemoryDeliveryStore([previous]);
    const next = { ...previous, status: 'failed' as const, attemptCount: 1 };
    await expect(store.recordAttempt({ delivery: next, previous, attempt: attemptNo(1) })).resolves.toBe(true);
    const stored = await store.getWithAttempts(previous.id);
    expect(stored?.delivery.attemptCount).toBe(1);
    expect(stored?.attempts.map((a) => a.attempt)).toEqual([1]);
  });

  test('recordAttempt rejects a second record of the same attempt number and writes nothing', async () => {
    const previous = aDelivery();
    const store = new InMemoryDeliveryStore([previous]);
    const next = { ...previous, status: 'failed' as const, attemptCount: 1 };
    await store.recordAttempt({ delivery: next, previous, attempt: attemptNo(1) });
    const again = { ...previous, status: 'succeeded' as const, attemptCount: 1 };
    await expect(store.recordAttempt({ delivery: again, previous, attempt: { ...attemptNo(1), outcome: 'succeeded' } })).resolves.toBe(
      false,
    );
    expect(store.deliveries.get(previous.id)?.status).toBe('failed');
    expect(store.attempts.get(previous.id)).toHaveLength(1);
  });

  test('recordAttempt rejects a change computed from a stale status or attempt count', async () => {
    const current = aDelivery({ status: 'failed', attemptCount: 2 });
    const store = new InMemoryDeliveryStore([current]);
    const stale = { ...current, attemptCount: 1 };
    const next = { ...current, attemptCount: 3 };
    await expect(store.recordAttempt({ delivery: next, previous: stale, attempt: attemptNo(3) })).resolves.toBe(false);
    await expect(store.recordAttempt({ delivery: next, previous: { ...current, status: 'pending' }, attempt: attemptNo(3) })).resolves.toBe(
      false,
    );
    expect(store.attempts.get(current.id)).toBeUndefined();
  });

  test('update is conditional on the previous status and attempt count', async () => {
    const current = aDelivery();
    const store = new InMemoryDeliveryStore([current]);
    await expect(store.update({ ...current, status: 'dead' }, { ...current, attemptCount: 5 })).resolves.toBe(false);
    await expect(store.update({ ...current, status: 'dead' }, current)).resolves.toBe(true);
    expect(store.deliveries.get(current.id)?.status).toBe('dead');
  });

  test('lists are newest first and paginated with a cursor', async () => {
    const store = new InMemoryDeliveryStore([
      aDelivery({ id: 'dlv_1', status: 'dead' }),
      aDelivery({ id: 'dlv_2' }),
      aDelivery({ id: 'dlv_3', status: 'dead' }),
    ]);
    const first = await store.listByMessage(aDelivery().messageId, { limit: 2 });
    expect(first.items.map((d) => d.id)).toEqual(['dlv_3', 'dlv_2']);
    const second = await store.listByMessage(aDelivery().messageId, { limit: 2, ...(first.nextCursor && { cursor: first.nextCursor }) });
    expect(second.items.map((d) => d.id)).toEqual(['dlv_1']);
    expect(second.nextCursor).toBeUndefined();
    const dead = await store.listByEndpoint(aDelivery().endpointId, { status: 'dead' }, { limit: 10 });
    expect(dead.items.map((d) => d.id)).toEqual(['dlv_3', 'dlv_1']);
  });
});

describe('InMemoryDeliveryStore: the tenant and endpoint lists', () => {
  const store = new InMemoryDeliveryStore([
    aDelivery({ id: 'dlv_1', status: 'dead' }),
    aDelivery({ id: 'dlv_2', status: 'failed' }),
    aDelivery({ id: 'dlv_3', status: 'dead' }),
    aDelivery({ id: 'dlv_4', status: 'dead', tenantId: 'ten_OTHER', endpointId: 'ep_OTHER' }),
    aDelivery({ id: 'dlv_5', status: 'pending' }),
  ]);

  test("listByTenant: one tenant's deliveries in one status, newest first, paginated", async () => {
    const first = await store.listByTenant(TENANT, 'dead', { limit: 1 });
    expect(first.items.map((d) => d.id)).toEqual(['dlv_3']);
    const rest = await store.listByTenant(TENANT, 'dead', { limit: 5, ...(first.nextCursor && { cursor: first.nextCursor }) });
    expect(rest.items.map((d) => d.id)).toEqual(['dlv_1']);
    expect(rest.nextCursor).toBeUndefined();
  });

  test('listAllByEndpoint: the given statuses, newest first, from sinceId on (inclusive)', async () => {
    const endpointId = aDelivery().endpointId;
    expect((await store.listAllByEndpoint(endpointId, ['dead', 'failed'])).map((d) => d.id)).toEqual(['dlv_3', 'dlv_2', 'dlv_1']);
    expect((await store.listAllByEndpoint(endpointId, ['dead', 'failed'], 'dlv_2')).map((d) => d.id)).toEqual(['dlv_3', 'dlv_2']);
    expect(await store.listAllByEndpoint('ep_NONE', ['dead'])).toEqual([]);
  });
});

describe('InMemoryEndpointStore (fake of EndpointStore)', () => {
  test('disable is true only for the call that disabled the endpoint', async () => {
    const store = new InMemoryEndpointStore([anEndpoint()]);
    const { tenantId, id } = anEndpoint();
    await expect(store.disable(tenantId, id, 'gone', T0.toISOString())).resolves.toBe(true);
    await expect(store.disable(tenantId, id, 'again', T0.toISOString())).resolves.toBe(false);
    await expect(store.disable(tenantId, 'ep_NONE', 'gone', T0.toISOString())).resolves.toBe(false);
    expect(store.endpoints.get(id)).toMatchObject({ disabled: true, disabledReason: 'gone', updatedAt: T0.toISOString() });
  });

  test('recordFailure starts a run once and counts it; recordSuccess ends it', async () => {
    const store = new InMemoryEndpointStore([anEndpoint()]);
    const { tenantId, id } = anEndpoint();
    await expect(store.recordFailure(tenantId, id, '2025-03-01T12:00:00.000Z')).resolves.toBe('2025-03-01T12:00:00.000Z');
    await expect(store.recordFailure(tenantId, id, '2025-03-01T13:00:00.000Z')).resolves.toBe('2025-03-01T12:00:00.000Z');
    expect(store.endpoints.get(id)).toMatchObject({ failingSince: '2025-03-01T12:00:00.000Z', consecutiveFailures: 2 });
    await store.recordSuccess(tenantId, id);
    expect(store.endpoints.get(id)).toEqual(anEndpoint());
    await expect(store.recordFailure('ten_OTHER', id, T0.toISOString())).resolves.toBeUndefined();
  });
});

describe('InMemoryDueWorkIndex (fake of DueWorkIndex)', () => {
  test('overdue: entries strictly before `before`, oldest first, at most `limit`; postpone moves an entry only if present', async () => {
    const index = new InMemoryDueWorkIndex();
    index.add({ kind: 'delivery', id: 'dlv_B' }, '2025-03-01T12:00:02.000Z');
    index.add({ kind: 'message', id: 'msg_A' }, '2025-03-01T12:00:01.000Z');
    index.add({ kind: 'delivery', id: 'dlv_C' }, '2025-03-01T12:00:03.000Z');
    expect(await index.overdue('2025-03-01T12:00:03.000Z', 10)).toEqual([
      { kind: 'message', id: 'msg_A' },
      { kind: 'delivery', id: 'dlv_B' },
    ]);
    expect(await index.overdue('2025-03-01T12:00:03.000Z', 1)).toEqual([{ kind: 'message', id: 'msg_A' }]);
    await index.postpone({ kind: 'message', id: 'msg_A' }, '2025-03-01T13:00:00.000Z');
    await index.postpone({ kind: 'message', id: 'msg_NONE' }, '2025-03-01T13:00:00.000Z');
    expect(await index.overdue('2025-03-01T12:30:00.000Z', 10)).toEqual([
      { kind: 'delivery', id: 'dlv_B' },
      { kind: 'delivery', id: 'dlv_C' },
    ]);
    expect(index.positionOf({ kind: 'message', id: 'msg_NONE' })).toBeUndefined();
  });
});

describe('FakeRateLimiter (fake of RateLimiter)', () => {
  test('a budget per endpoint and second', async () => {
    const limiter = new FakeRateLimiter();
    const second = (ms: number) => new Date(T0.getTime() + ms);
    const results = [
      await limiter.tryAcquire('ep_A', 2, second(0)),
      await limiter.tryAcquire('ep_A', 2, second(500)),
      await limiter.tryAcquire('ep_A', 2, second(999)),
      await limiter.tryAcquire('ep_B', 2, second(999)),
      await limiter.tryAcquire('ep_A', 2, second(1000)),
    ];
    expect(results).toEqual([true, true, false, true, true]);
  });
});

describe('RecordingDeliveryQueue (fake of DeliveryQueue)', () => {
  test('records the options as given; jobsOn treats an absent lane as the primary one', async () => {
    const queue = new RecordingDeliveryQueue();
    const job = { deliveryId: 'dlv_1', tenantId: TENANT, messageId: 'msg_1', endpointId: 'ep_1' };
    await queue.enqueue([job]);
    await queue.enqueue([{ ...job, deliveryId: 'dlv_2' }], { delaySeconds: 3, lane: 'retry' });
    expect(queue.calls).toEqual([
      { jobs: [job], delaySeconds: undefined, lane: undefined },
      { jobs: [{ ...job, deliveryId: 'dlv_2' }], delaySeconds: 3, lane: 'retry' },
    ]);
    expect(queue.jobsOn('primary').map((j) => j.deliveryId)).toEqual(['dlv_1']);
    expect(queue.jobsOn('retry').map((j) => j.deliveryId)).toEqual(['dlv_2']);
  });
});

describe('InMemoryMessageStore (fake of MessageStore)', () => {
  test('a claim returns the first message while it is valid', async () => {
    const store = new InMemoryMessageStore();
    const claim = { keyHash: 'h', expiresAt: '2025-03-02T12:00:00.000Z' };
    const base = { tenantId: 'ten_A', type: 't', payloadJson: '{}', createdAt: T0.toISOString() };
    const first = await store.create({ ...base, id: 'msg_1' }, claim, T0.toISOString());
    const replay = await store.create({ ...base, id: 'msg_2' }, claim, T0.toISOString());
    expect(first.created).toBe(true);
    expect(replay).toEqual({ created: false, message: first.message });
    const afterExpiry = await store.create({ ...base, id: 'msg_3' }, claim, '2025-03-03T00:00:00.000Z');
    expect(afterExpiry.created).toBe(true);
  });
});

describe('FakeClock', () => {
  test('moves only when told to', () => {
    const clock = new FakeClock();
    expect(clock.now().toISOString()).toBe(T0.toISOString());
    clock.advance(1500);
    expect(clock.now().getTime()).toBe(T0.getTime() + 1500);
  });
});
