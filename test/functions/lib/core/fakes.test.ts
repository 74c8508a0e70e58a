import type { Attempt } from '../../../../functions/lib/core/model.ts';
import { aDelivery, FakeClock, InMemoryDeliveryStore, InMemoryMessageStore, T0 } from './fakes.ts';

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
