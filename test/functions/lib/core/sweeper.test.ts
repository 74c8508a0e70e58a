import { jobOf } from '../../../../functions/lib/core/delivery.ts';
import type { Delivery, Message } from '../../../../functions/lib/core/model.ts';
import { DEFAULT_SWEEP_GRACE_SECONDS, SweeperService } from '../../../../functions/lib/core/sweeper.ts';
import {
  aDelivery,
  aMessage,
  FakeClock,
  InMemoryDeliveryStore,
  InMemoryDueWorkIndex,
  InMemoryMessageStore,
  RecordingDeliveryQueue,
  RecordingFanOutQueue,
  T0,
  TENANT,
} from './fakes.ts';

/** The sweep runs ten minutes after T0. */
const NOW = new Date(T0.getTime() + 600_000);
const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs).toISOString();

interface Setup {
  readonly deliveries?: readonly Delivery[];
  readonly messages?: readonly Message[];
  readonly graceSeconds?: number;
}

function setup(options: Setup = {}) {
  const due = new InMemoryDueWorkIndex();
  const deliveries = new InMemoryDeliveryStore(options.deliveries ?? []);
  const messages = new InMemoryMessageStore(options.messages ?? []);
  const deliveryQueue = new RecordingDeliveryQueue();
  const fanOutQueue = new RecordingFanOutQueue();
  const clock = new FakeClock(NOW);
  const service = new SweeperService({
    due,
    deliveries,
    messages,
    deliveryQueue,
    fanOutQueue,
    clock,
    ...(options.graceSeconds !== undefined && { graceSeconds: options.graceSeconds }),
  });
  // The index holds what the ledger says is due: deliveries by nextAttemptAt, messages by createdAt.
  for (const d of options.deliveries ?? []) if (d.nextAttemptAt) due.add({ kind: 'delivery', id: d.id }, d.nextAttemptAt);
  for (const m of options.messages ?? []) if (!m.fannedOutAt) due.add({ kind: 'message', id: m.id }, m.createdAt);
  return { service, due, deliveries, messages, deliveryQueue, fanOutQueue, clock };
}

const id = (n: number) => `dlv_01JN${String(n).padStart(22, '0')}`;

describe('SweeperService.sweep', () => {
  test('overdue deliveries are re-enqueued: never attempted on the primary lane, attempted before on the retry lane', async () => {
    const fresh = aDelivery({ id: id(1), nextAttemptAt: at(-300_000) });
    const retried = aDelivery({ id: id(2), status: 'failed', attemptCount: 2, nextAttemptAt: at(-200_000) });
    const redriven = aDelivery({ id: id(3), status: 'pending', attemptCount: 8, scheduledAttempts: 0, nextAttemptAt: at(-500_000) });
    const s = setup({ deliveries: [fresh, retried, redriven] });
    const report = await s.service.sweep();
    expect(report).toEqual({ deliveries: 3, messages: 0 });
    expect(s.deliveryQueue.calls).toEqual([
      { jobs: [jobOf(fresh)], delaySeconds: undefined, lane: 'primary' },
      { jobs: [jobOf(redriven), jobOf(retried)], delaySeconds: undefined, lane: 'retry' },
    ]);
    // Scheduled jobs: the delivery service decides again whether each is due.
    for (const job of s.deliveryQueue.jobs) expect(job.trigger).toBeUndefined();
    expect(s.fanOutQueue.jobs).toEqual([]);
  });

  test('finished, undated and vanished deliveries are ignored', async () => {
    const finished = (['succeeded', 'dead', 'acknowledged'] as const).map((status, i) =>
      aDelivery({ id: id(10 + i), status, attemptCount: 1, nextAttemptAt: at(-300_000) }),
    );
    const { nextAttemptAt: _paused, ...undated } = aDelivery({ id: id(20), status: 'failed', attemptCount: 1 });
    const s = setup({ deliveries: [...finished, undated] });
    // Stale index entries (written before the delivery moved on) for the undated one and one no longer in the ledger.
    s.due.add({ kind: 'delivery', id: undated.id }, at(-300_000));
    s.due.add({ kind: 'delivery', id: id(99) }, at(-300_000));
    const report = await s.service.sweep();
    expect(report).toEqual({ deliveries: 0, messages: 0 });
    expect(s.deliveryQueue.calls).toEqual([]);
    // Ignored or not, each moved out of the sweeper's way.
    expect(s.due.postponeCalls.map((c) => c.item.id).sort()).toEqual([...finished.map((d) => d.id), undated.id, id(99)].sort());
  });

  test('messages never fanned out go back to the fan-out queue; fanned-out and vanished ones are ignored', async () => {
    const stuck = aMessage({ id: 'msg_01JN000000000000000000STUCK', createdAt: at(-300_000) });
    const done = aMessage({ id: 'msg_01JN0000000000000000000DONE', createdAt: at(-300_000), fannedOutAt: at(-299_000) });
    const s = setup({ messages: [stuck, done] });
    s.due.add({ kind: 'message', id: done.id }, done.createdAt);
    s.due.add({ kind: 'message', id: 'msg_01JN0000000000000000000GONE' }, at(-300_000));
    const report = await s.service.sweep();
    expect(report).toEqual({ deliveries: 0, messages: 1 });
    expect(s.fanOutQueue.jobs).toEqual([{ messageId: stuck.id, tenantId: TENANT }]);
    expect(s.deliveryQueue.calls).toEqual([]);
  });

  test('every overdue item is postponed by one grace period, so the next sweep does not repeat it at once', async () => {
    const late = aDelivery({ id: id(1), nextAttemptAt: at(-300_000) });
    const stuck = aMessage({ createdAt: at(-300_000) });
    const s = setup({ deliveries: [late], messages: [stuck] });
    expect(DEFAULT_SWEEP_GRACE_SECONDS).toBe(120);
    await s.service.sweep();
    const until = at(120_000);
    expect(s.due.postponeCalls).toEqual([
      { item: { kind: 'delivery', id: late.id }, until },
      { item: { kind: 'message', id: stuck.id }, until },
    ]);
    expect(s.due.positionOf({ kind: 'delivery', id: late.id })).toBe(until);
    // The postponement moves the index entry, not the delivery's schedule.
    expect(s.deliveries.deliveries.get(late.id)).toEqual(late);

    expect(await s.service.sweep()).toEqual({ deliveries: 0, messages: 0 });
    expect(s.deliveryQueue.jobs).toHaveLength(1);
    expect(s.fanOutQueue.jobs).toHaveLength(1);

    // Had the re-enqueued work been lost too, it is overdue again once that period is itself a grace period late.
    s.clock.advance(240_001);
    expect(await s.service.sweep()).toEqual({ deliveries: 1, messages: 1 });
  });

  test('an item not yet overdue by graceSeconds is left alone (its own job is probably just queued)', async () => {
    const almost = aDelivery({ id: id(1), nextAttemptAt: at(-299_000) });
    const overdue = aDelivery({ id: id(2), nextAttemptAt: at(-301_000) });
    const future = aDelivery({ id: id(3), nextAttemptAt: at(60_000) });
    const recentMessage = aMessage({ createdAt: at(-10_000) });
    const s = setup({ deliveries: [almost, overdue, future], messages: [recentMessage], graceSeconds: 300 });
    const report = await s.service.sweep();
    expect(s.due.overdueCalls[0]?.before).toBe(at(-300_000));
    expect(report).toEqual({ deliveries: 1, messages: 0 });
    expect(s.deliveryQueue.jobs).toEqual([jobOf(overdue)]);
    expect(s.fanOutQueue.jobs).toEqual([]);
    expect(s.due.postponeCalls.map((c) => c.item.id)).toEqual([overdue.id]);
    expect(s.due.positionOf({ kind: 'delivery', id: almost.id })).toBe(almost.nextAttemptAt);
    expect(s.due.positionOf({ kind: 'delivery', id: overdue.id })).toBe(at(300_000));
  });

  test('a backlog larger than one batch is swept batch after batch', async () => {
    const backlog = Array.from({ length: 600 }, (_, i) => aDelivery({ id: id(i), nextAttemptAt: at(-600_000 + i) }));
    const s = setup({ deliveries: backlog });
    expect(await s.service.sweep()).toEqual({ deliveries: 600, messages: 0 });
    expect(s.due.overdueCalls.map((c) => c.limit)).toEqual([500, 500]);
    expect(new Set(s.deliveryQueue.jobs.map((j) => j.deliveryId)).size).toBe(600);
  });

  test('maxItems bounds one sweep; the rest waits for the next', async () => {
    const backlog = Array.from({ length: 600 }, (_, i) => aDelivery({ id: id(i), nextAttemptAt: at(-600_000 + i) }));
    const s = setup({ deliveries: backlog });
    expect(await s.service.sweep(500)).toEqual({ deliveries: 500, messages: 0 });
    expect(s.due.overdueCalls).toHaveLength(1);
    expect(await s.service.sweep(500)).toEqual({ deliveries: 100, messages: 0 });
    expect(new Set(s.deliveryQueue.jobs.map((j) => j.deliveryId)).size).toBe(600);
  });

  test('nothing overdue: one look at the index, nothing else', async () => {
    const s = setup({ deliveries: [aDelivery({ nextAttemptAt: at(0) })] });
    expect(await s.service.sweep()).toEqual({ deliveries: 0, messages: 0 });
    expect(s.due.overdueCalls).toHaveLength(1);
    expect(s.due.postponeCalls).toEqual([]);
    expect(s.deliveryQueue.calls).toEqual([]);
  });
});
