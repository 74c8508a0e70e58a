import { idempotentMessageId, messageSlot, ulidIdGenerator } from '../../../../functions/lib/core/ids.ts';
import type { Attempt, Delivery, Message } from '../../../../functions/lib/core/model.ts';
import type { KeyReuse } from '../../../../functions/lib/core/ports.ts';
import {
  aDelivery,
  aMessage,
  anEndpoint,
  FakeClock,
  FakeRateLimiter,
  firstJobFor,
  InMemoryDeliveryStore,
  InMemoryDispatchedMessages,
  InMemoryDueWorkIndex,
  InMemoryEndpointStore,
  InMemoryMessageStore,
  jobFor,
  RecordingDeliveryQueue,
  SnapshotContextLoader,
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
  test('create writes a delivery only if it does not exist yet, and records every call', async () => {
    const store = new InMemoryDeliveryStore([aDelivery({ id: 'dlv_A' })]);
    await expect(store.create(aDelivery({ id: 'dlv_A', status: 'dead' }))).resolves.toBe(false);
    await expect(store.create(aDelivery({ id: 'dlv_B' }))).resolves.toBe(true);
    expect(store.deliveries.get('dlv_A')?.status).toBe('pending');
    expect(store.deliveries.get('dlv_B')).toEqual(aDelivery({ id: 'dlv_B' }));
    expect(store.attempts.get('dlv_B')).toBeUndefined();
    expect(store.createCalls.map((d) => [d.id, d.status])).toEqual([
      ['dlv_A', 'dead'],
      ['dlv_B', 'pending'],
    ]);
  });

  test('recordFirstAttempt writes the delivery and attempt 1 only if the delivery is new', async () => {
    const store = new InMemoryDeliveryStore([aDelivery({ id: 'dlv_A' })]);
    const failedA: Delivery = aDelivery({ id: 'dlv_A', status: 'failed', attemptCount: 1 });
    await expect(store.recordFirstAttempt(failedA, { ...attemptNo(1), deliveryId: 'dlv_A' })).resolves.toBe(false);
    expect(store.deliveries.get('dlv_A')).toEqual(aDelivery({ id: 'dlv_A' }));
    expect(store.attempts.get('dlv_A')).toBeUndefined();

    const failedB: Delivery = aDelivery({ id: 'dlv_B', status: 'failed', attemptCount: 1 });
    const attempt: Attempt = { ...attemptNo(1), deliveryId: 'dlv_B' };
    await expect(store.recordFirstAttempt(failedB, attempt)).resolves.toBe(true);
    expect(await store.getWithAttempts('dlv_B')).toEqual({ delivery: failedB, attempts: [attempt], events: [] });
    // A second copy of the same first attempt (a job SQS handed out twice) writes nothing.
    await expect(store.recordFirstAttempt({ ...failedB, status: 'succeeded' }, { ...attempt, outcome: 'succeeded' })).resolves.toBe(false);
    expect(store.deliveries.get('dlv_B')).toEqual(failedB);
    expect(store.attempts.get('dlv_B')).toEqual([attempt]);
    expect(store.firstCalls.map((c) => c.delivery.id)).toEqual(['dlv_A', 'dlv_B', 'dlv_B']);
    expect(store.settleCalls).toEqual([]);
  });

  test('settleFirstAttempt writes without a condition: it replaces the delivery and attempt 1, and keeps later attempts', async () => {
    const { nextAttemptAt: _none, ...settled }: Delivery = aDelivery({ status: 'succeeded', attemptCount: 1 });
    const success: Attempt = { ...attemptNo(1), statusCode: 200, outcome: 'succeeded' };

    // A delivery not in the ledger yet.
    const fresh = new InMemoryDeliveryStore([]);
    await fresh.settleFirstAttempt(settled, success);
    expect(await fresh.getWithAttempts(settled.id)).toEqual({ delivery: settled, attempts: [success], events: [] });

    // Over what a concurrent copy of the job recorded: its attempt 1 is replaced, a later attempt stays.
    const store = new InMemoryDeliveryStore([]);
    const failed: Delivery = aDelivery({ status: 'failed', attemptCount: 1 });
    expect(await store.recordFirstAttempt(failed, attemptNo(1))).toBe(true);
    const failedTwice: Delivery = { ...failed, attemptCount: 2 };
    expect(await store.recordAttempt({ delivery: failedTwice, previous: failed, attempt: attemptNo(2) })).toBe(true);
    await store.settleFirstAttempt(settled, success);
    expect(store.deliveries.get(settled.id)).toEqual(settled);
    expect(store.attempts.get(settled.id)).toEqual([success, attemptNo(2)]);
    expect(store.settleCalls).toEqual([{ delivery: settled, attempt: success }]);
    expect(store.firstCalls).toHaveLength(1);
  });

  test('existing names the deliveries in the ledger; getMany returns those found, by id', async () => {
    const store = new InMemoryDeliveryStore([aDelivery({ id: 'dlv_A' }), aDelivery({ id: 'dlv_C', status: 'dead' })]);
    expect(await store.existing(['dlv_A', 'dlv_B', 'dlv_C'])).toEqual(new Set(['dlv_A', 'dlv_C']));
    expect(await store.existing([])).toEqual(new Set());
    const found = await store.getMany(['dlv_C', 'dlv_B']);
    expect([...found.keys()]).toEqual(['dlv_C']);
    expect(found.get('dlv_C')?.status).toBe('dead');
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
    const first = await store.listByEndpoint(aDelivery().endpointId, {}, { limit: 2 });
    expect(first.items.map((d) => d.id)).toEqual(['dlv_3', 'dlv_2']);
    const second = await store.listByEndpoint(
      aDelivery().endpointId,
      {},
      { limit: 2, ...(first.nextCursor && { cursor: first.nextCursor }) },
    );
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

  test("listDead: one tenant's dead deliveries, newest first, paginated", async () => {
    const first = await store.listDead(TENANT, {}, { limit: 1 });
    expect(first.items.map((d) => d.id)).toEqual(['dlv_3']);
    const rest = await store.listDead(TENANT, {}, { limit: 5, ...(first.nextCursor && { cursor: first.nextCursor }) });
    expect(rest.items.map((d) => d.id)).toEqual(['dlv_1']);
    expect(rest.nextCursor).toBeUndefined();
    expect((await store.listDead('ten_OTHER', {}, { limit: 5 })).items.map((d) => d.id)).toEqual(['dlv_4']);
    expect(await store.listDead('ten_NONE', {}, { limit: 5 })).toEqual({ items: [] });
  });

  test('listAllByEndpoint: the given statuses, newest first, from sinceId on (inclusive)', async () => {
    const endpointId = aDelivery().endpointId;
    expect((await store.listAllByEndpoint(endpointId, ['dead', 'failed'])).map((d) => d.id)).toEqual(['dlv_3', 'dlv_2', 'dlv_1']);
    expect((await store.listAllByEndpoint(endpointId, ['dead', 'failed'], 'dlv_2')).map((d) => d.id)).toEqual(['dlv_3', 'dlv_2']);
    expect(await store.listAllByEndpoint('ep_NONE', ['dead'])).toEqual([]);
  });
});

describe('InMemoryDeliveryStore: what endpoint stats read', () => {
  const endpointId = aDelivery().endpointId;
  const hour = (h: number) => new Date(T0.getTime() + h * 3_600_000);
  const idAt = (h: number) => `dlv_${ulidIdGenerator().next('message', hour(h)).slice(4)}ABCDEFGHJKMN`;
  const [h0, h1, h2] = [idAt(0), idAt(1), idAt(2)];
  const store = new InMemoryDeliveryStore([
    aDelivery({ id: h0, status: 'succeeded' }),
    aDelivery({ id: h1, status: 'failed' }),
    aDelivery({ id: h2, status: 'dead' }),
    aDelivery({ id: idAt(1), endpointId: 'ep_OTHER' }),
  ]);
  store.attempts.set(h1, [
    { ...attemptNo(2), deliveryId: h1, durationMs: 900 },
    { ...attemptNo(1), deliveryId: h1, durationMs: 40 },
  ]);
  store.attempts.set(h2, [{ ...attemptNo(2), deliveryId: h2 }]);
  store.attempts.set('dlv_GONE', [{ ...attemptNo(1), deliveryId: 'dlv_GONE' }]);

  test("statusesByEndpoint: the endpoint's ids and statuses in the window, newest first, at most `limit`", async () => {
    expect(await store.statusesByEndpoint(endpointId, {}, 10)).toEqual([
      { id: h2, status: 'dead' },
      { id: h1, status: 'failed' },
      { id: h0, status: 'succeeded' },
    ]);
    expect(await store.statusesByEndpoint(endpointId, {}, 2)).toEqual([
      { id: h2, status: 'dead' },
      { id: h1, status: 'failed' },
    ]);
    expect((await store.statusesByEndpoint(endpointId, { after: hour(1), before: hour(2) }, 10)).map((e) => e.id)).toEqual([h1]);
    expect(await store.statusesByEndpoint('ep_NONE', {}, 10)).toEqual([]);
  });

  test('firstAttemptDurations: attempt 1 of the deliveries in the ledger that have one', async () => {
    expect(await store.firstAttemptDurations([h0, h1, h2, 'dlv_GONE'])).toEqual(new Map([[h1, 40]]));
    expect(await store.firstAttemptDurations([])).toEqual(new Map());
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
    index.add({ id: 'dlv_B' }, '2025-03-01T12:00:02.000Z');
    index.add({ id: 'dlv_A' }, '2025-03-01T12:00:01.000Z');
    index.add({ id: 'dlv_C' }, '2025-03-01T12:00:03.000Z');
    expect(await index.overdue('2025-03-01T12:00:03.000Z', 10)).toEqual([{ id: 'dlv_A' }, { id: 'dlv_B' }]);
    expect(await index.overdue('2025-03-01T12:00:03.000Z', 1)).toEqual([{ id: 'dlv_A' }]);
    await index.postpone({ id: 'dlv_A' }, '2025-03-01T13:00:00.000Z');
    await index.postpone({ id: 'dlv_NONE' }, '2025-03-01T13:00:00.000Z');
    expect(await index.overdue('2025-03-01T12:30:00.000Z', 10)).toEqual([{ id: 'dlv_B' }, { id: 'dlv_C' }]);
    expect(index.positionOf({ id: 'dlv_A' })).toBe('2025-03-01T13:00:00.000Z');
    expect(index.positionOf({ id: 'dlv_NONE' })).toBeUndefined();
    expect(index.overdueCalls).toEqual([
      { before: '2025-03-01T12:00:03.000Z', limit: 10 },
      { before: '2025-03-01T12:00:03.000Z', limit: 1 },
      { before: '2025-03-01T12:30:00.000Z', limit: 10 },
    ]);
    expect(index.postponeCalls.map((c) => [c.item.id, c.until])).toEqual([
      ['dlv_A', '2025-03-01T13:00:00.000Z'],
      ['dlv_NONE', '2025-03-01T13:00:00.000Z'],
    ]);
  });

  test('the key is `<at>#<id>`: at the same time the ids break the tie, and `before` compares whole keys', async () => {
    const index = new InMemoryDueWorkIndex();
    const at = '2025-03-01T12:00:00.000Z';
    index.add({ id: 'dlv_2' }, at);
    index.add({ id: 'dlv_1' }, at);
    expect((await index.overdue(`${at}#dlv_2`, 10)).map((i) => i.id)).toEqual(['dlv_1']);
    expect((await index.overdue(`${at}#dlv_3`, 10)).map((i) => i.id)).toEqual(['dlv_1', 'dlv_2']);
  });

  test('remove takes an item out of the index, and a postpone after it does not bring it back', async () => {
    const index = new InMemoryDueWorkIndex();
    index.add({ id: 'dlv_A' }, '2025-03-01T12:00:01.000Z');
    index.add({ id: 'dlv_B' }, '2025-03-01T12:00:01.000Z');
    index.remove({ id: 'dlv_A' });
    await index.postpone({ id: 'dlv_A' }, '2025-03-01T12:00:02.000Z');
    expect(await index.overdue('2025-03-02T00:00:00.000Z', 10)).toEqual([{ id: 'dlv_B' }]);
    expect(index.positionOf({ id: 'dlv_A' })).toBeUndefined();
  });
});

describe('FakeRateLimiter (fake of RateLimiter)', () => {
  test('a budget per endpoint and second', async () => {
    const limiter = new FakeRateLimiter();
    const second = (ms: number) => new Date(T0.getTime() + ms);
    const results = [
      await limiter.tryAcquire({ endpointId: 'ep_A' }, 2, second(0)),
      await limiter.tryAcquire({ endpointId: 'ep_A' }, 2, second(500)),
      await limiter.tryAcquire({ endpointId: 'ep_A' }, 2, second(999)),
      await limiter.tryAcquire({ endpointId: 'ep_B' }, 2, second(999)),
      await limiter.tryAcquire({ endpointId: 'ep_A' }, 2, second(1000)),
    ];
    expect(results).toEqual([true, true, false, true, true]);
  });
});

describe('RecordingDeliveryQueue (fake of DeliveryQueue)', () => {
  const job = { deliveryId: 'dlv_1', tenantId: TENANT, messageId: 'msg_1', endpointId: 'ep_1' };
  const first = firstJobFor(aMessage(), ['ep_1', 'ep_2']);

  test('records the options as given; jobsOn treats an absent lane as the primary one', async () => {
    const queue = new RecordingDeliveryQueue();
    await queue.enqueue([job]);
    await queue.enqueue([{ ...job, deliveryId: 'dlv_2' }], { delaySeconds: 3, lane: 'retry' });
    await queue.enqueue([first], { lane: 'primary' });
    expect(queue.calls).toEqual([
      { tasks: [job], delaySeconds: undefined, lane: undefined },
      { tasks: [{ ...job, deliveryId: 'dlv_2' }], delaySeconds: 3, lane: 'retry' },
      { tasks: [first], delaySeconds: undefined, lane: 'primary' },
    ]);
    expect(queue.jobsOn('primary')).toEqual([job, first]);
    expect(queue.jobsOn('retry')).toEqual([{ ...job, deliveryId: 'dlv_2' }]);
  });

  test('tasks: every task queued, in order; jobs: the delivery jobs only; firstJobs: the first-attempt jobs only', async () => {
    const queue = new RecordingDeliveryQueue();
    const manual = { ...job, deliveryId: 'dlv_2', trigger: 'manual' as const };
    const second = firstJobFor(aMessage({ id: 'msg_01JN0000000000000000000TWO' }), ['ep_3'], false);
    await queue.enqueue([first, job], { lane: 'primary' });
    await queue.enqueue([manual, second], { lane: 'retry' });
    expect(queue.tasks).toEqual([first, job, manual, second]);
    expect(queue.jobs).toEqual([job, manual]);
    expect(queue.firstJobs).toEqual([first, second]);
    expect(first.payloadJson).toBe(aMessage().payloadJson);
    expect(second).not.toHaveProperty('payloadJson');
  });

  test('failWith fails every call and records nothing until it is cleared', async () => {
    const queue = new RecordingDeliveryQueue();
    queue.failWith = new Error('the queue is unreachable');
    await expect(queue.enqueue([job])).rejects.toThrow('the queue is unreachable');
    expect(queue.calls).toEqual([]);
    queue.failWith = undefined;
    await queue.enqueue([job]);
    expect(queue.tasks).toEqual([job]);
  });
});

describe('InMemoryMessageStore (fake of MessageStore)', () => {
  const keyHash = 'a2V5LWhhc2g';
  const base = { tenantId: TENANT, type: 'lock.unlocked', payloadJson: '{}', createdAt: T0.toISOString() };
  /** A message id from its ULID halves: 10 characters of time, 16 of randomness (the slot). */
  const messageId = (time: string, random: string) => `msg_${time}${random}`;

  test('a message is stored in the slot its id names; get returns it as posted, without the claim', async () => {
    const store = new InMemoryMessageStore();
    const id = idempotentMessageId(TENANT, keyHash, T0);
    const message: Message = { ...base, id, endpointIds: ['ep_1'] };
    await expect(store.create(message, { keyHash })).resolves.toEqual({ created: true });
    expect(await store.get(id)).toEqual(message);
    expect(store.createCalls).toEqual([{ message, claim: { keyHash } }]);
  });

  test('a taken slot writes nothing and answers with what holds it, its key hash included', async () => {
    const store = new InMemoryMessageStore();
    const id = idempotentMessageId(TENANT, keyHash, T0);
    const first: Message = { ...base, id };
    await store.create(first, { keyHash });
    // The same key posted a second later: another time half, the same slot.
    const later = idempotentMessageId(TENANT, keyHash, new Date(T0.getTime() + 1000));
    expect(later).not.toBe(id);
    expect(messageSlot(later)).toBe(messageSlot(id));
    const replay = await store.create({ ...base, id: later, payloadJson: '{"again":true}' }, { keyHash });
    expect(replay).toEqual({ created: false, existing: { ...first, idempotencyKeyHash: keyHash } });
    expect(await store.get(later)).toBeUndefined();
    expect(await store.get(id)).toEqual(first);
    expect(store.messages.size).toBe(1);
    expect(store.createCalls).toHaveLength(2);
  });

  test('a message stored without a claim holds its slot too, with no key hash', async () => {
    const store = new InMemoryMessageStore();
    const first: Message = { ...base, id: messageId('01JN000000', '00000000000000AA') };
    await expect(store.create(first, undefined)).resolves.toEqual({ created: true });
    // Another time half, the same random half: the same slot.
    const clash = await store.create({ ...first, id: messageId('01JN999999', '00000000000000AA') }, undefined);
    // toEqual: no key hash beside the message's own fields.
    expect(clash).toEqual({ created: false, existing: first });
    await expect(store.create({ ...first, id: messageId('01JN000000', '00000000000000AB') }, undefined)).resolves.toEqual({
      created: true,
    });
    expect(store.messages.size).toBe(2);
  });

  test('another tenant or key is another slot', async () => {
    const store = new InMemoryMessageStore();
    const ids = [
      idempotentMessageId(TENANT, keyHash, T0),
      idempotentMessageId('ten_OTHER', keyHash, T0),
      idempotentMessageId(TENANT, 'b3RoZXI', T0),
    ];
    expect(new Set(ids.map(messageSlot)).size).toBe(3);
    for (const id of ids) await expect(store.create({ ...base, id }, { keyHash })).resolves.toEqual({ created: true });
    expect(store.messages.size).toBe(3);
  });

  test('the initial messages hold their slots; list is per tenant and type, newest first', async () => {
    const a = aMessage({ id: messageId('01JN000000', '00000000000000AA') });
    const b = aMessage({ id: messageId('01JN000000', '00000000000000BB'), type: 'lock.locked' });
    const c = aMessage({ id: messageId('01JN000000', '00000000000000CC'), tenantId: 'ten_OTHER' });
    const store = new InMemoryMessageStore([a, b, c]);
    expect(await store.create({ ...a, id: messageId('01JN111111', '00000000000000AA') }, undefined)).toEqual({
      created: false,
      existing: a,
    });
    expect((await store.list(TENANT, {}, { limit: 10 })).items).toEqual([b, a]);
    expect((await store.list(TENANT, { type: 'lock.unlocked' }, { limit: 10 })).items).toEqual([a]);
    expect(await store.get(c.id)).toEqual(c);
  });

  describe('reuseKey, slotOf and expire', () => {
    const holderId = idempotentMessageId(TENANT, keyHash, T0);
    const pointer = (id: string, day: number): KeyReuse => ({
      messageId: id,
      createdAt: new Date(T0.getTime() + day * 86_400_000).toISOString(),
      windowEndsAt: new Date(T0.getTime() + (day + 1) * 86_400_000).toISOString(),
    });
    const first = pointer('msg_01JN00000000000000000NEXT1', 1);
    const second = pointer('msg_01JN00000000000000000NEXT2', 2);

    async function withHolder() {
      const store = new InMemoryMessageStore();
      await store.create({ ...base, id: holderId }, { keyHash });
      const holder = store.slotOf(holderId);
      if (!holder) throw new Error('the holder was not stored');
      return { store, holder };
    }

    test('slotOf: the stored form of what holds the slot of an id (claim and pointer included), or undefined', async () => {
      const { store, holder } = await withHolder();
      expect(holder).toEqual({ ...base, id: holderId, idempotencyKeyHash: keyHash });
      // Any id of the same slot names the same holder.
      expect(store.slotOf(idempotentMessageId(TENANT, keyHash, new Date(T0.getTime() + 86_400_000)))).toEqual(holder);
      expect(store.slotOf(idempotentMessageId('ten_OTHER', keyHash, T0))).toBeUndefined();
      const plain: Message = { ...base, id: messageId('01JN000000', '00000000000000AA') };
      await store.create(plain, undefined);
      expect(store.slotOf(plain.id)).toEqual(plain);
    });

    test('a first pointer is set only when the holder has none (previous undefined)', async () => {
      const { store, holder } = await withHolder();
      await expect(store.reuseKey(holder, first, undefined)).resolves.toBe(true);
      expect(store.slotOf(holderId)).toEqual({ ...holder, keyReuse: first });
      // A concurrent reuse that saw no pointer either loses.
      await expect(store.reuseKey(holder, second, undefined)).resolves.toBe(false);
      expect(store.slotOf(holderId)?.keyReuse).toEqual(first);
      // The pointer is not part of the message as read.
      expect(await store.get(holderId)).toEqual({ ...base, id: holderId });
      expect(store.reuseCalls).toEqual([
        { holder: holderId, reuse: first, previous: undefined },
        { holder: holderId, reuse: second, previous: undefined },
      ]);
    });

    test('a pointer moves only from the pointer the caller saw', async () => {
      const { store, holder } = await withHolder();
      await store.reuseKey(holder, first, undefined);
      const stale = pointer('msg_01JN0000000000000000STALE', 1);
      await expect(store.reuseKey(holder, second, stale)).resolves.toBe(false);
      expect(store.slotOf(holderId)?.keyReuse).toEqual(first);
      await expect(store.reuseKey(holder, second, first)).resolves.toBe(true);
      expect(store.slotOf(holderId)).toEqual({ ...base, id: holderId, idempotencyKeyHash: keyHash, keyReuse: second });
      // The move is decided by what the ledger holds, not by the holder object passed in.
      await expect(store.reuseKey({ ...holder, keyReuse: second }, pointer('msg_01JN00000000000000000NEXT3', 3), first)).resolves.toBe(
        false,
      );
      expect(store.slotOf(holderId)?.keyReuse).toEqual(second);
      // Only the holder changed: no message was written or removed.
      expect(store.messages.size).toBe(1);
      expect(store.createCalls).toHaveLength(1);
    });

    test('no pointer on a holder that is gone, or on a message that no longer holds its slot', async () => {
      const { store, holder } = await withHolder();
      store.expire(holderId);
      await expect(store.reuseKey(holder, first, undefined)).resolves.toBe(false);
      expect(store.slotOf(holderId)).toBeUndefined();
      // The slot is taken again by another message (a fresh holder, posted later): the old holder is not it.
      const fresh = idempotentMessageId(TENANT, keyHash, new Date(T0.getTime() + 2 * 86_400_000));
      await store.create({ ...base, id: fresh }, { keyHash });
      await expect(store.reuseKey(holder, first, undefined)).resolves.toBe(false);
      expect(store.slotOf(fresh)).toEqual({ ...base, id: fresh, idempotencyKeyHash: keyHash });
      expect(store.reuseCalls).toHaveLength(2);
    });

    test('expire removes a message and frees its slot, pointer and all; a later create takes the slot', async () => {
      const { store, holder } = await withHolder();
      await store.reuseKey(holder, first, undefined);
      store.expire(holderId);
      expect(await store.get(holderId)).toBeUndefined();
      expect(store.slotOf(holderId)).toBeUndefined();
      expect(store.messages.size).toBe(0);
      const later = idempotentMessageId(TENANT, keyHash, new Date(T0.getTime() + 3 * 86_400_000));
      await expect(store.create({ ...base, id: later }, { keyHash })).resolves.toEqual({ created: true });
      expect(store.slotOf(holderId)).toEqual({ ...base, id: later, idempotencyKeyHash: keyHash });
    });

    test('expire of an id that does not hold its slot leaves the holder alone; an unknown id is a no-op', async () => {
      const { store, holder } = await withHolder();
      // Another time half, the same slot: not the holder.
      store.expire(idempotentMessageId(TENANT, keyHash, new Date(T0.getTime() + 1000)));
      store.expire('msg_01JN00000000000000000NONE0');
      expect(store.slotOf(holderId)).toEqual(holder);
      expect(await store.get(holderId)).toEqual({ ...base, id: holderId });
      expect(store.messages.size).toBe(1);
    });
  });
});

describe('InMemoryDispatchedMessages (fake of DispatchedMessages)', () => {
  const at = (offsetMs: number) => new Date(T0.getTime() + offsetMs);
  const messageAt = (offsetMs: number, endpointIds?: readonly string[]): Message =>
    aMessage({
      id: ulidIdGenerator(() => at(offsetMs).getTime()).next('message'),
      createdAt: at(offsetMs).toISOString(),
      ...(endpointIds && { endpointIds }),
    });

  test('indexes only messages that went to endpoints, at their id', async () => {
    const index = new InMemoryDispatchedMessages();
    const sent = messageAt(0, ['ep_1', 'ep_2']);
    index.add(sent);
    index.add(messageAt(1000));
    index.add(messageAt(2000, []));
    expect(await index.after(undefined, at(60_000).toISOString(), 10)).toEqual([
      { messageId: sent.id, tenantId: TENANT, endpointIds: ['ep_1', 'ep_2'], position: sent.id, dispatchAt: new Date(sent.createdAt) },
    ]);
  });

  test('after: past the position, created before `before`, oldest first, at most `limit`', async () => {
    const index = new InMemoryDispatchedMessages();
    const m3 = messageAt(3000, ['ep_1']);
    const m1 = messageAt(1000, ['ep_1']);
    const m2 = messageAt(2000, ['ep_1']);
    const m9 = messageAt(9000, ['ep_1']);
    for (const m of [m3, m1, m2, m9]) index.add(m);
    const ids = async (position: string | undefined, before: number, limit: number) =>
      (await index.after(position, at(before).toISOString(), limit)).map((d) => d.messageId);
    expect(await ids(undefined, 5000, 10)).toEqual([m1.id, m2.id, m3.id]);
    expect(await ids(undefined, 5000, 2)).toEqual([m1.id, m2.id]);
    expect(await ids(m2.id, 5000, 10)).toEqual([m3.id]);
    expect(await ids(m3.id, 60_000, 10)).toEqual([m9.id]);
    // `before` is exclusive: a message created in that very millisecond is not included yet.
    expect(await ids(undefined, 3000, 10)).toEqual([m1.id, m2.id]);
    expect(index.afterCalls[0]).toEqual({ position: undefined, before: at(5000).toISOString(), limit: 10 });
  });

  test('positionAt is the smallest message id of that millisecond', () => {
    const index = new InMemoryDispatchedMessages();
    const message = messageAt(0);
    expect(index.positionAt(T0.toISOString())).toMatch(/^msg_[0-9A-HJKMNP-TV-Z]{10}0{16}$/);
    expect(index.positionAt(T0.toISOString()) < message.id).toBe(true);
    expect(index.positionAt(at(1).toISOString()) > message.id).toBe(true);
  });

  test('the bookmark moves only from the position it was read at', async () => {
    const index = new InMemoryDispatchedMessages();
    expect(await index.checkedUpTo()).toBeUndefined();
    await expect(index.markCheckedUpTo('msg_B', undefined)).resolves.toBe(true);
    await expect(index.markCheckedUpTo('msg_C', undefined)).resolves.toBe(false);
    expect(await index.checkedUpTo()).toBe('msg_B');
    await expect(index.markCheckedUpTo('msg_C', 'msg_B')).resolves.toBe(true);
    expect(index.bookmark).toBe('msg_C');
  });
});

describe('SnapshotContextLoader (fake of DeliveryContextLoader)', () => {
  test("reads the jobs' deliveries, endpoints and messages, and the messages asked for, as of load time", async () => {
    const delivery = aDelivery();
    const endpoint = anEndpoint();
    const message = aMessage();
    const other = aMessage({ id: 'msg_01JN00000000000000000OTHER' });
    const deliveries = new InMemoryDeliveryStore([delivery]);
    const endpoints = new InMemoryEndpointStore([endpoint]);
    const loader = new SnapshotContextLoader(deliveries, endpoints, new InMemoryMessageStore([message, other]));
    const snapshot = await loader.load([jobFor(delivery)], [other.id, 'msg_NONE']);
    // Later writes are not seen.
    deliveries.deliveries.set(delivery.id, { ...delivery, status: 'succeeded' });
    endpoints.endpoints.set(endpoint.id, { ...endpoint, disabled: true });
    expect(snapshot.delivery(delivery.id)).toEqual(delivery);
    expect(snapshot.endpoint(TENANT, endpoint.id)).toEqual(endpoint);
    expect(snapshot.endpoint('ten_OTHER', endpoint.id)).toBeUndefined();
    expect(snapshot.message(message.id)).toEqual(message);
    expect(snapshot.message(other.id)).toEqual(other);
    expect(snapshot.message('msg_NONE')).toBeUndefined();
    expect(loader.loadCalls).toEqual([{ jobs: [jobFor(delivery)], messageIds: [other.id, 'msg_NONE'] }]);
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
