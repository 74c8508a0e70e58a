import { encodeTime } from 'ulid';
import { firstAttemptJobs } from '../../../../functions/lib/core/dispatch.ts';
import { EndpointDirectory } from '../../../../functions/lib/core/endpoint-directory.ts';
import { deliveryIdFor, idFloor } from '../../../../functions/lib/core/ids.ts';
import { jobOf } from '../../../../functions/lib/core/jobs.ts';
import type { Delivery, Endpoint, Message } from '../../../../functions/lib/core/model.ts';
import { DEFAULT_SWEEP_GRACE_SECONDS, SweeperService } from '../../../../functions/lib/core/sweeper.ts';
import {
  aDelivery,
  aMessage,
  anEndpoint,
  FakeClock,
  InMemoryDeliveryStore,
  InMemoryDispatchedMessages,
  InMemoryDueWorkIndex,
  InMemoryEndpointStore,
  InMemoryMessageStore,
  RecordingDeliveryQueue,
  T0,
  TENANT,
} from './fakes.ts';

/** The sweep runs ten minutes after T0. */
const NOW = new Date(T0.getTime() + 600_000);
const at = (offsetMs: number) => new Date(NOW.getTime() + offsetMs).toISOString();

interface Setup {
  readonly deliveries?: readonly Delivery[];
  /** Stored and dispatched (those with endpointIds are in the dispatched index). */
  readonly messages?: readonly Message[];
  /** In the dispatched index but no longer in the message store (expired from history). */
  readonly expired?: readonly Message[];
  readonly endpoints?: readonly Endpoint[];
  readonly bookmark?: string;
  readonly graceSeconds?: number;
}

function setup(options: Setup = {}) {
  const due = new InMemoryDueWorkIndex();
  const deliveries = new InMemoryDeliveryStore(options.deliveries ?? []);
  const messages = new InMemoryMessageStore(options.messages ?? []);
  const dispatched = new InMemoryDispatchedMessages();
  const clock = new FakeClock(NOW);
  const endpointStore = new InMemoryEndpointStore(options.endpoints ?? []);
  const endpoints = new EndpointDirectory(endpointStore, clock, 0);
  const deliveryQueue = new RecordingDeliveryQueue();
  const service = new SweeperService({
    due,
    deliveries,
    messages,
    dispatched,
    endpoints,
    deliveryQueue,
    clock,
    ...(options.graceSeconds !== undefined && { graceSeconds: options.graceSeconds }),
  });
  // The due index holds the dated deliveries by nextAttemptAt; the dispatched index every message sent to endpoints.
  for (const d of options.deliveries ?? []) if (d.nextAttemptAt) due.add({ id: d.id }, d.nextAttemptAt);
  for (const m of [...(options.messages ?? []), ...(options.expired ?? [])].sort((a, b) => (a.id < b.id ? -1 : 1))) dispatched.add(m);
  dispatched.bookmark = options.bookmark;
  return { service, due, deliveries, messages, dispatched, endpointStore, deliveryQueue, clock };
}

const id = (n: number) => `dlv_01JN${String(n).padStart(22, '0')}`;

/** A message created `offsetMs` from NOW (its id carries that time), sent to these endpoints. */
function sent(offsetMs: number, endpointIds: readonly string[], n = 1, overrides: Partial<Message> = {}): Message {
  return aMessage({
    id: `msg_${encodeTime(NOW.getTime() + offsetMs, 10)}${String(n).padStart(16, '0')}`,
    createdAt: at(offsetMs),
    endpointIds,
    ...overrides,
  });
}

/** The delivery a first attempt of `message` to `endpointId` wrote. */
function deliveredTo(message: Message, endpointId: string, overrides: Partial<Delivery> = {}): Delivery {
  const { nextAttemptAt: _none, ...delivery } = aDelivery({
    id: deliveryIdFor(message.id, endpointId),
    messageId: message.id,
    endpointId,
    status: 'succeeded',
    attemptCount: 1,
  });
  return { ...delivery, ...overrides };
}

const fast = anEndpoint({ id: 'ep_FAST', timeoutMs: 10_000 });
const slow = anEndpoint({ id: 'ep_SLOW', timeoutMs: 30_000 });
const other = anEndpoint({ id: 'ep_OTHER', timeoutMs: 5_000 });

describe('SweeperService.sweep: overdue deliveries', () => {
  test('overdue deliveries are re-enqueued: never attempted on the primary lane, attempted before on the retry lane', async () => {
    const fresh = aDelivery({ id: id(1), nextAttemptAt: at(-300_000) });
    const retried = aDelivery({ id: id(2), status: 'failed', attemptCount: 2, nextAttemptAt: at(-200_000) });
    const redriven = aDelivery({ id: id(3), status: 'pending', attemptCount: 8, scheduledAttempts: 0, nextAttemptAt: at(-500_000) });
    const s = setup({ deliveries: [fresh, retried, redriven] });
    const report = await s.service.sweep();
    expect(report).toEqual({ scheduled: 0, deliveries: 3, messages: 0, checked: 0 });
    expect(s.deliveryQueue.calls).toEqual([
      { tasks: [jobOf(fresh)], delaySeconds: undefined, lane: 'primary' },
      { tasks: [jobOf(redriven), jobOf(retried)], delaySeconds: undefined, lane: 'retry' },
    ]);
    // Scheduled jobs: the delivery service decides again whether each is due.
    for (const job of s.deliveryQueue.jobs) expect(job.trigger).toBeUndefined();
    expect(s.deliveryQueue.firstJobs).toEqual([]);
  });

  test('finished, undated and vanished deliveries are ignored', async () => {
    const finished = (['succeeded', 'dead', 'acknowledged'] as const).map((status, i) =>
      aDelivery({ id: id(10 + i), status, attemptCount: 1, nextAttemptAt: at(-300_000) }),
    );
    const { nextAttemptAt: _paused, ...undated } = aDelivery({ id: id(20), status: 'failed', attemptCount: 1 });
    const s = setup({ deliveries: [...finished, undated] });
    // Stale index entries (written before the delivery moved on) for the undated one and one no longer in the ledger.
    s.due.add({ id: undated.id }, at(-300_000));
    s.due.add({ id: id(99) }, at(-300_000));
    const report = await s.service.sweep();
    expect(report).toEqual({ scheduled: 0, deliveries: 0, messages: 0, checked: 0 });
    expect(s.deliveryQueue.calls).toEqual([]);
    // Ignored or not, each moved out of the sweeper's way.
    expect(s.due.postponeCalls.map((c) => c.item.id).sort()).toEqual([...finished.map((d) => d.id), undated.id, id(99)].sort());
  });

  test('every overdue item is postponed by one grace period, so the next sweep does not repeat it at once', async () => {
    const late = aDelivery({ id: id(1), nextAttemptAt: at(-300_000) });
    const s = setup({ deliveries: [late] });
    expect(DEFAULT_SWEEP_GRACE_SECONDS).toBe(120);
    await s.service.sweep();
    const until = at(120_000);
    expect(s.due.postponeCalls).toEqual([{ item: { id: late.id }, until }]);
    expect(s.due.positionOf({ id: late.id })).toBe(until);
    // The postponement moves the index entry, not the delivery's schedule.
    expect(s.deliveries.deliveries.get(late.id)).toEqual(late);

    expect(await s.service.sweep()).toMatchObject({ deliveries: 0 });
    expect(s.deliveryQueue.jobs).toHaveLength(1);

    // Had the re-enqueued job been lost too, it is overdue again once that period is itself a grace period late.
    s.clock.advance(240_001);
    expect(await s.service.sweep()).toMatchObject({ deliveries: 1 });
    expect(s.deliveryQueue.jobs).toHaveLength(2);
  });

  test('an item not yet overdue by graceSeconds is left alone (its own job is probably just queued)', async () => {
    const almost = aDelivery({ id: id(1), nextAttemptAt: at(-299_000) });
    const overdue = aDelivery({ id: id(2), nextAttemptAt: at(-301_000) });
    const future = aDelivery({ id: id(3), nextAttemptAt: at(60_000) });
    const s = setup({ deliveries: [almost, overdue, future], graceSeconds: 300 });
    const report = await s.service.sweep();
    expect(s.due.overdueCalls[0]?.before).toBe(at(-300_000));
    expect(report).toEqual({ scheduled: 0, deliveries: 1, messages: 0, checked: 0 });
    expect(s.deliveryQueue.jobs).toEqual([jobOf(overdue)]);
    expect(s.due.postponeCalls.map((c) => c.item.id)).toEqual([overdue.id]);
    expect(s.due.positionOf({ id: almost.id })).toBe(almost.nextAttemptAt);
    expect(s.due.positionOf({ id: overdue.id })).toBe(at(300_000));
  });

  test('a backlog larger than one batch is swept batch after batch', async () => {
    const backlog = Array.from({ length: 600 }, (_, i) => aDelivery({ id: id(i), nextAttemptAt: at(-600_000 + i) }));
    const s = setup({ deliveries: backlog });
    expect(await s.service.sweep()).toEqual({ scheduled: 0, deliveries: 600, messages: 0, checked: 0 });
    expect(s.due.overdueCalls.map((c) => c.limit)).toEqual([500, 500]);
    expect(new Set(s.deliveryQueue.jobs.map((j) => j.deliveryId)).size).toBe(600);
  });

  test('maxItems bounds one sweep; the rest waits for the next', async () => {
    const backlog = Array.from({ length: 600 }, (_, i) => aDelivery({ id: id(i), nextAttemptAt: at(-600_000 + i) }));
    const s = setup({ deliveries: backlog });
    expect(await s.service.sweep(500)).toMatchObject({ deliveries: 500 });
    expect(s.due.overdueCalls).toHaveLength(1);
    expect(await s.service.sweep(500)).toMatchObject({ deliveries: 100 });
    expect(new Set(s.deliveryQueue.jobs.map((j) => j.deliveryId)).size).toBe(600);
  });

  test('nothing overdue: one look at the index, nothing else', async () => {
    const s = setup({ deliveries: [aDelivery({ nextAttemptAt: at(0) })] });
    expect(await s.service.sweep()).toEqual({ scheduled: 0, deliveries: 0, messages: 0, checked: 0 });
    expect(s.due.overdueCalls).toHaveLength(1);
    expect(s.due.postponeCalls).toEqual([]);
    expect(s.deliveryQueue.calls).toEqual([]);
  });
});

describe('SweeperService.sweep: dispatched messages', () => {
  test('a message whose endpoints all have a delivery is checked once and passed', async () => {
    const message = sent(-300_000, [fast.id, slow.id]);
    const s = setup({
      messages: [message],
      endpoints: [fast, slow],
      // Any delivery counts, whatever its state: the job that made it ran.
      deliveries: [deliveredTo(message, fast.id), deliveredTo(message, slow.id, { status: 'failed', nextAttemptAt: at(60_000) })],
    });
    expect(await s.service.sweep()).toEqual({ scheduled: 0, deliveries: 0, messages: 0, checked: 1 });
    expect(s.deliveryQueue.calls).toEqual([]);
    expect(s.dispatched.bookmark).toBe(message.id);
    // The next sweep starts after it.
    expect(await s.service.sweep()).toEqual({ scheduled: 0, deliveries: 0, messages: 0, checked: 0 });
    expect(s.dispatched.afterCalls[1]?.position).toBe(message.id);
  });

  test('the endpoints without a delivery, and only those, are dispatched again on the retry lane', async () => {
    const message = sent(-300_000, [fast.id, slow.id, other.id]);
    const s = setup({ messages: [message], endpoints: [fast, slow, other], deliveries: [deliveredTo(message, slow.id)] });
    expect(await s.service.sweep()).toEqual({ scheduled: 0, deliveries: 0, messages: 1, checked: 1 });
    expect(s.deliveryQueue.calls).toEqual([
      { tasks: firstAttemptJobs(message, [fast.id, other.id], { recheck: true }), delaySeconds: undefined, lane: 'retry' },
    ]);
    expect(s.deliveryQueue.firstJobs).toEqual([
      {
        kind: 'first',
        tenantId: TENANT,
        messageId: message.id,
        type: message.type,
        createdAt: message.createdAt,
        endpointIds: [fast.id, other.id],
        payloadJson: message.payloadJson,
        // The first job may only have been slow: the worker looks in the ledger before attempting.
        recheck: true,
      },
    ]);
    expect(s.dispatched.bookmark).toBe(message.id);
  });

  test('the re-dispatch is built from the stored message: ten endpoints to a job, a large payload left in the ledger', async () => {
    const many = Array.from({ length: 12 }, (_, i) => anEndpoint({ id: `ep_M${String(i).padStart(2, '0')}` }));
    const message = sent(
      -300_000,
      many.map((e) => e.id),
      1,
      { payloadJson: JSON.stringify({ d: 'x'.repeat(60_000) }) },
    );
    const s = setup({ messages: [message], endpoints: many });
    await s.service.sweep();
    expect(s.deliveryQueue.calls).toHaveLength(1);
    expect(s.deliveryQueue.jobsOn('retry')).toHaveLength(2);
    expect(s.deliveryQueue.firstJobs.map((j) => j.endpointIds.length)).toEqual([10, 2]);
    for (const job of s.deliveryQueue.firstJobs) expect(job).not.toHaveProperty('payloadJson');
  });

  test("a missing delivery counts as lost only once the message is older than the grace plus the endpoint's timeout", async () => {
    // Grace 120 s + 10 s timeout: lost from 130 s on.
    const decided = setup({ messages: [sent(-130_000, [fast.id])], endpoints: [fast] });
    expect(await decided.service.sweep()).toEqual({ scheduled: 0, deliveries: 0, messages: 1, checked: 1 });

    const undecided = setup({ messages: [sent(-129_999, [fast.id])], endpoints: [fast] });
    expect(await undecided.service.sweep()).toEqual({ scheduled: 0, deliveries: 0, messages: 0, checked: 0 });
    expect(undecided.deliveryQueue.calls).toEqual([]);

    // A timeout is rounded up to whole seconds: 10.001 s counts as 11.
    const rounded = setup({ messages: [sent(-130_000, ['ep_R'])], endpoints: [anEndpoint({ id: 'ep_R', timeoutMs: 10_001 })] });
    expect(await rounded.service.sweep()).toMatchObject({ messages: 0, checked: 0 });
  });

  test('the longest timeout among the endpoints still missing a delivery decides', async () => {
    // Both missing: the 30 s endpoint decides (lost from 150 s on).
    const both = sent(-140_000, [fast.id, slow.id]);
    const s1 = setup({ messages: [both], endpoints: [fast, slow] });
    expect(await s1.service.sweep()).toMatchObject({ messages: 0, checked: 0 });

    // The slow one has its delivery: only the fast one's timeout counts.
    const s2 = setup({ messages: [both], endpoints: [fast, slow], deliveries: [deliveredTo(both, slow.id)] });
    expect(await s2.service.sweep()).toEqual({ scheduled: 0, deliveries: 0, messages: 1, checked: 1 });
    expect(s2.deliveryQueue.firstJobs.flatMap((j) => j.endpointIds)).toEqual([fast.id]);
  });

  test('an endpoint deleted since the message was sent is assumed to have had a 30 s timeout', async () => {
    const waiting = setup({ messages: [sent(-149_999, ['ep_GONE'])], endpoints: [] });
    expect(await waiting.service.sweep()).toMatchObject({ messages: 0, checked: 0 });

    const lost = sent(-150_000, ['ep_GONE']);
    const s = setup({ messages: [lost], endpoints: [] });
    expect(await s.service.sweep()).toEqual({ scheduled: 0, deliveries: 0, messages: 1, checked: 1 });
    // Its first attempt will close the delivery as deleted.
    expect(s.deliveryQueue.calls).toEqual([
      { tasks: firstAttemptJobs(lost, ['ep_GONE'], { recheck: true }), delaySeconds: undefined, lane: 'retry' },
    ]);
  });

  test('the bookmark stops at the first undecided message; the messages after it wait with it', async () => {
    const done = sent(-600_000, [fast.id], 1);
    // Its 30 s endpoint may still be running its first attempt: undecided until 150 s.
    const pending = sent(-140_000, [slow.id], 2);
    // Lost already (10 s endpoint, 135 s old), but after the undecided one.
    const later = sent(-135_000, [fast.id], 3);
    const s = setup({ messages: [done, pending, later], endpoints: [fast, slow], deliveries: [deliveredTo(done, fast.id)] });
    expect(await s.service.sweep()).toEqual({ scheduled: 0, deliveries: 0, messages: 0, checked: 1 });
    expect(s.dispatched.bookmark).toBe(done.id);
    expect(s.deliveryQueue.calls).toEqual([]);

    // Eleven seconds later both are decided, and both are dispatched again.
    s.clock.advance(11_000);
    expect(await s.service.sweep()).toEqual({ scheduled: 0, deliveries: 0, messages: 2, checked: 2 });
    expect(s.dispatched.afterCalls[1]?.position).toBe(done.id);
    expect(s.deliveryQueue.calls).toEqual([
      { tasks: firstAttemptJobs(pending, [slow.id], { recheck: true }), delaySeconds: undefined, lane: 'retry' },
      { tasks: firstAttemptJobs(later, [fast.id], { recheck: true }), delaySeconds: undefined, lane: 'retry' },
    ]);
    expect(s.dispatched.bookmark).toBe(later.id);
  });

  test('a first attempt that records its delivery within its timeout is not dispatched again', async () => {
    const pending = sent(-140_000, [slow.id]);
    const s = setup({ messages: [pending], endpoints: [slow] });
    await s.service.sweep();
    // The first attempt finishes within its timeout and records the delivery.
    await s.deliveries.recordFirstAttempt(deliveredTo(pending, slow.id), {
      deliveryId: deliveryIdFor(pending.id, slow.id),
      attempt: 1,
      trigger: 'scheduled',
      startedAt: at(-130_000),
      durationMs: 29_000,
      outcome: 'succeeded',
    });
    s.clock.advance(11_000);
    expect(await s.service.sweep()).toEqual({ scheduled: 0, deliveries: 0, messages: 0, checked: 1 });
    expect(s.deliveryQueue.calls).toEqual([]);
    expect(s.dispatched.bookmark).toBe(pending.id);
  });

  test('messages younger than the grace period are not read', async () => {
    const checkedBefore = sent(-900_000, [fast.id], 1);
    const young = sent(-60_000, [fast.id], 2);
    const s = setup({ messages: [young], endpoints: [fast], bookmark: checkedBefore.id });
    expect(await s.service.sweep()).toEqual({ scheduled: 0, deliveries: 0, messages: 0, checked: 0 });
    expect(s.dispatched.afterCalls).toEqual([{ position: checkedBefore.id, before: at(-120_000), limit: 500 }]);
    expect(s.dispatched.bookmark).toBe(checkedBefore.id);
    expect(s.deliveryQueue.calls).toEqual([]);
  });

  test('graceSeconds sets how old a message must be before it is read', async () => {
    const message = sent(-200_000, [fast.id]);
    const s = setup({ messages: [message], endpoints: [fast], graceSeconds: 300 });
    expect(await s.service.sweep()).toMatchObject({ messages: 0, checked: 0 });
    expect(s.dispatched.afterCalls[0]?.before).toBe(at(-300_000));
    s.clock.advance(111_000);
    // 311 s old: past the grace (300 s), and past grace + timeout (310 s).
    expect(await s.service.sweep()).toMatchObject({ messages: 1, checked: 1 });
  });

  test('a queue failure leaves the bookmark where it was; the next sweep does the work', async () => {
    const done = sent(-600_000, [fast.id], 1);
    const lost = sent(-500_000, [fast.id], 2);
    const s = setup({ messages: [done, lost], endpoints: [fast], deliveries: [deliveredTo(done, fast.id)], bookmark: 'msg_0' });
    s.deliveryQueue.failWith = new Error('SQS unreachable');
    await expect(s.service.sweep()).rejects.toThrow('SQS unreachable');
    expect(s.dispatched.bookmark).toBe('msg_0');

    s.deliveryQueue.failWith = undefined;
    expect(await s.service.sweep()).toEqual({ scheduled: 0, deliveries: 0, messages: 1, checked: 2 });
    expect(s.deliveryQueue.calls).toEqual([
      { tasks: firstAttemptJobs(lost, [fast.id], { recheck: true }), delaySeconds: undefined, lane: 'retry' },
    ]);
    expect(s.dispatched.bookmark).toBe(lost.id);
  });

  test('a message gone from the history is passed without a re-dispatch', async () => {
    const gone = sent(-300_000, [fast.id]);
    const s = setup({ expired: [gone], endpoints: [fast] });
    expect(await s.service.sweep()).toEqual({ scheduled: 0, deliveries: 0, messages: 0, checked: 1 });
    expect(s.deliveryQueue.calls).toEqual([]);
    expect(s.dispatched.bookmark).toBe(gone.id);
  });

  test('one existence check for a batch: the derived delivery ids of every (message, endpoint) pair', async () => {
    const m1 = sent(-600_000, [fast.id, slow.id], 1);
    const m2 = sent(-500_000, [other.id], 2);
    const s = setup({ messages: [m1, m2], endpoints: [fast, slow, other] });
    const existing = jest.spyOn(s.deliveries, 'existing');
    await s.service.sweep();
    expect(existing).toHaveBeenCalledTimes(1);
    expect(existing).toHaveBeenCalledWith([deliveryIdFor(m1.id, fast.id), deliveryIdFor(m1.id, slow.id), deliveryIdFor(m2.id, other.id)]);
  });

  test('the first run looks back one hour before the grace period; later runs start at the bookmark', async () => {
    const lookback = (120 + 3600) * 1000;
    const tooOld = sent(-lookback - 1, [fast.id], 1);
    const inRange = sent(-lookback + 1, [fast.id], 2);
    const s = setup({ messages: [tooOld, inRange], endpoints: [fast] });
    expect(await s.service.sweep()).toEqual({ scheduled: 0, deliveries: 0, messages: 1, checked: 1 });
    expect(s.dispatched.afterCalls[0]).toEqual({
      position: idFloor('message', new Date(NOW.getTime() - lookback)),
      before: at(-120_000),
      limit: 500,
    });
    expect(s.deliveryQueue.firstJobs.map((j) => j.messageId)).toEqual([inRange.id]);
    expect(s.dispatched.bookmark).toBe(inRange.id);

    await s.service.sweep();
    expect(s.dispatched.afterCalls[1]?.position).toBe(inRange.id);
  });

  test('a first run that finds nothing still records where it started', async () => {
    const s = setup();
    expect(await s.service.sweep()).toEqual({ scheduled: 0, deliveries: 0, messages: 0, checked: 0 });
    expect(s.dispatched.bookmark).toBe(idFloor('message', new Date(NOW.getTime() - (120 + 3600) * 1000)));
  });

  test('a backlog larger than one batch is checked batch after batch', async () => {
    const backlog = Array.from({ length: 600 }, (_, i) => sent(-3_000_000 + i * 1000, [fast.id], i));
    const s = setup({ messages: backlog, endpoints: [fast], deliveries: backlog.map((m) => deliveredTo(m, fast.id)), bookmark: 'msg_0' });
    expect(await s.service.sweep()).toEqual({ scheduled: 0, deliveries: 0, messages: 0, checked: 600 });
    expect(s.dispatched.afterCalls.map((c) => [c.position, c.limit])).toEqual([
      ['msg_0', 500],
      [backlog[499]?.id, 500],
    ]);
    expect(s.dispatched.bookmark).toBe(backlog[599]?.id);
  });

  test('a concurrent sweep that moved the bookmark first wins; this one does not move it back', async () => {
    const message = sent(-300_000, [fast.id]);
    const s = setup({ messages: [message], endpoints: [fast], deliveries: [deliveredTo(message, fast.id)], bookmark: 'msg_0' });
    const original = s.dispatched.markCheckedUpTo.bind(s.dispatched);
    const markCheckedUpTo = jest.spyOn(s.dispatched, 'markCheckedUpTo').mockImplementationOnce(async (position, previous) => {
      // Another sweeper got there between this one's read of the bookmark and its write.
      s.dispatched.bookmark = 'msg_ZZZZ';
      return original(position, previous);
    });
    expect(await s.service.sweep()).toMatchObject({ checked: 1 });
    expect(markCheckedUpTo).toHaveBeenCalledWith(message.id, 'msg_0');
    expect(s.dispatched.bookmark).toBe('msg_ZZZZ');
  });
});

describe('SweeperService.sweep: both duties', () => {
  test('one sweep re-enqueues overdue deliveries and re-dispatches lost first attempts, and reports both', async () => {
    const lost = sent(-300_000, [fast.id, slow.id], 1);
    const overdue = deliveredTo(lost, slow.id, { status: 'failed', nextAttemptAt: at(-300_000) });
    const s = setup({ messages: [lost], endpoints: [fast, slow], deliveries: [overdue] });
    expect(await s.service.sweep()).toEqual({ scheduled: 0, deliveries: 1, messages: 1, checked: 1 });
    expect(s.deliveryQueue.calls).toEqual([
      { tasks: [jobOf(overdue)], delaySeconds: undefined, lane: 'retry' },
      { tasks: firstAttemptJobs(lost, [fast.id], { recheck: true }), delaySeconds: undefined, lane: 'retry' },
    ]);
  });
});
