import { encodeTime } from 'ulid';
import { addSeconds } from '../../../../functions/lib/core/clock.ts';
import { DispatchService, firstAttemptJobs } from '../../../../functions/lib/core/dispatch.ts';
import { EndpointDirectory } from '../../../../functions/lib/core/endpoint-directory.ts';
import { ConflictError, IdempotencyKeyReusedError, NotFoundError, ValidationError } from '../../../../functions/lib/core/errors.ts';
import { EventTypeCatalog } from '../../../../functions/lib/core/event-types.ts';
import { deliveryIdFor, ulidIdGenerator } from '../../../../functions/lib/core/ids.ts';
import { MessageService } from '../../../../functions/lib/core/messages.ts';
import type { Message } from '../../../../functions/lib/core/model.ts';
import {
  checkDeliverAt,
  dispatchTimeOf,
  isScheduled,
  MAX_SCHEDULE_AHEAD_SECONDS,
  messageStatus,
  SCHEDULE_LOOKAHEAD_SECONDS,
  waitsForSweeper,
} from '../../../../functions/lib/core/schedule.ts';
import { SweeperService } from '../../../../functions/lib/core/sweeper.ts';
import {
  aMessage,
  anEndpoint,
  deliveryHarness,
  FakeClock,
  InMemoryDeliveryStore,
  InMemoryDispatchedMessages,
  InMemoryDueWorkIndex,
  InMemoryEndpointStore,
  InMemoryEventTypeStore,
  InMemoryMessageStore,
  RecordingDeliveryQueue,
  T0,
  TENANT,
} from './fakes.ts';

const at = (seconds: number) => addSeconds(T0, seconds);
const iso = (seconds: number) => at(seconds).toISOString();

/** A message accepted at T0 + `createdIn` seconds, due at T0 + `dueIn`, sent to these endpoints. */
function scheduled(dueIn: number, endpointIds: readonly string[] = ['ep_1'], createdIn = 0, n = 1): Message {
  return aMessage({
    id: `msg_${encodeTime(at(createdIn).getTime(), 10)}${String(n).padStart(16, '0')}`,
    createdAt: iso(createdIn),
    deliverAt: iso(dueIn),
    endpointIds,
  });
}

describe('the schedule window and a message status', () => {
  test('deliverAt may be up to 7 days ahead, and up to a minute past (sent at once); further either way is a 400', () => {
    expect(() => checkDeliverAt(at(MAX_SCHEDULE_AHEAD_SECONDS), T0)).not.toThrow();
    expect(() => checkDeliverAt(at(-60), T0)).not.toThrow();
    expect(() => checkDeliverAt(at(MAX_SCHEDULE_AHEAD_SECONDS + 1), T0)).toThrow(ValidationError);
    expect(() => checkDeliverAt(at(MAX_SCHEDULE_AHEAD_SECONDS + 1), T0)).toThrow(/at most 7 days ahead/);
    expect(() => checkDeliverAt(at(-61), T0)).toThrow(/in the past/);
  });

  test('scheduled only when deliverAt is after acceptance; far-ahead ones wait for the sweeper', () => {
    expect(isScheduled(aMessage({ createdAt: iso(0) }))).toBe(false);
    expect(isScheduled(scheduled(0))).toBe(false);
    expect(isScheduled(scheduled(-30))).toBe(false);
    expect(dispatchTimeOf(scheduled(-30))).toEqual(at(0));
    expect(isScheduled(scheduled(5))).toBe(true);
    expect(dispatchTimeOf(scheduled(5))).toEqual(at(5));
    expect(waitsForSweeper(scheduled(SCHEDULE_LOOKAHEAD_SECONDS))).toBe(false);
    expect(waitsForSweeper(scheduled(SCHEDULE_LOOKAHEAD_SECONDS + 1))).toBe(true);
  });

  test('status: scheduled until its time, then dispatched; cancelled wins', () => {
    const message = scheduled(60);
    expect(messageStatus(message, at(59))).toBe('scheduled');
    expect(messageStatus(message, at(60))).toBe('dispatched');
    expect(messageStatus({ ...message, cancelledAt: iso(10) }, at(10))).toBe('cancelled');
    expect(messageStatus(aMessage({ createdAt: iso(0) }), at(0))).toBe('dispatched');
  });
});

function ingestSetup() {
  const clock = new FakeClock(T0);
  const store = new InMemoryMessageStore();
  const endpoints = new InMemoryEndpointStore([anEndpoint({ id: 'ep_1' })]);
  const eventTypes = new InMemoryEventTypeStore([{ tenantId: TENANT, name: 'lock.unlocked', createdAt: iso(-100), updatedAt: iso(-100) }]);
  const service = new MessageService({
    messages: store,
    eventTypes: new EventTypeCatalog(eventTypes, clock, 0),
    validator: { checkSchema: () => [], validate: () => [] },
    endpoints: new EndpointDirectory(endpoints, clock, 0),
    clock,
    ids: ulidIdGenerator(() => clock.now().getTime()),
  });
  return { service, store, clock };
}

const payload = { text: '{"lockId":"L-1"}', value: { lockId: 'L-1' } };

describe('MessageService: posting a scheduled message and cancelling it', () => {
  test('a message with deliverAt is stored at once with its time and its endpoints, and reads as scheduled', async () => {
    const s = ingestSetup();
    const { message } = await s.service.ingest(TENANT, 'lock.unlocked', payload, { deliverAt: at(3600) });
    expect(message).toMatchObject({ deliverAt: iso(3600), endpointIds: ['ep_1'], createdAt: iso(0) });
    expect(s.store.messages.get(message.id)).toEqual(message);
    expect(messageStatus(message, s.service.now())).toBe('scheduled');
  });

  test('deliverAt out of the window is refused before anything is stored', async () => {
    const s = ingestSetup();
    await expect(s.service.ingest(TENANT, 'lock.unlocked', payload, { deliverAt: at(8 * 86_400) })).rejects.toBeInstanceOf(ValidationError);
    expect(s.store.messages.size).toBe(0);
  });

  test('a repeat with the same Idempotency-Key must ask for the same deliverAt', async () => {
    const s = ingestSetup();
    const first = await s.service.ingest(TENANT, 'lock.unlocked', payload, { idempotencyKey: 'k', deliverAt: at(600) });
    const again = await s.service.ingest(TENANT, 'lock.unlocked', payload, { idempotencyKey: 'k', deliverAt: at(600) });
    expect(again).toEqual({ message: first.message, created: false });
    await expect(s.service.ingest(TENANT, 'lock.unlocked', payload, { idempotencyKey: 'k', deliverAt: at(601) })).rejects.toBeInstanceOf(
      IdempotencyKeyReusedError,
    );
    await expect(s.service.ingest(TENANT, 'lock.unlocked', payload, { idempotencyKey: 'k' })).rejects.toBeInstanceOf(
      IdempotencyKeyReusedError,
    );
  });

  test('cancel: a scheduled message becomes cancelled, and cancelling again answers the same', async () => {
    const s = ingestSetup();
    const { message } = await s.service.ingest(TENANT, 'lock.unlocked', payload, { deliverAt: at(3600) });
    s.clock.advance(10_000);
    const cancelled = await s.service.cancel(TENANT, message.id);
    expect(cancelled).toEqual({ ...message, cancelledAt: iso(10) });
    expect(s.store.messages.get(message.id)?.cancelledAt).toBe(iso(10));
    s.clock.advance(10_000);
    expect(await s.service.cancel(TENANT, message.id)).toEqual(cancelled);
    expect(messageStatus(cancelled, s.service.now())).toBe('cancelled');
  });

  test('cancel refuses a message that was not scheduled, one whose time has come, and one already released', async () => {
    const s = ingestSetup();
    const now = await s.service.ingest(TENANT, 'lock.unlocked', payload);
    await expect(s.service.cancel(TENANT, now.message.id)).rejects.toThrow(ConflictError);
    await expect(s.service.cancel(TENANT, now.message.id)).rejects.toThrow(/was not scheduled/);

    const soon = await s.service.ingest(TENANT, 'lock.unlocked', payload, { deliverAt: at(5) });
    s.clock.advance(5_000);
    await expect(s.service.cancel(TENANT, soon.message.id)).rejects.toThrow(/can no longer be cancelled/);

    const later = await s.service.ingest(TENANT, 'lock.unlocked', payload, { deliverAt: at(600) });
    await s.store.release(later.message.id, iso(5));
    await expect(s.service.cancel(TENANT, later.message.id)).rejects.toThrow(/can no longer be cancelled/);
    expect(s.store.messages.get(later.message.id)?.cancelledAt).toBeUndefined();
  });

  test("another tenant's message is not found", async () => {
    const s = ingestSetup();
    const { message } = await s.service.ingest(TENANT, 'lock.unlocked', payload, { deliverAt: at(600) });
    await expect(s.service.cancel('ten_01JN00000000000000000OTHER', message.id)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('DispatchService: a scheduled message waits in the queue delay', () => {
  function dispatchSetup() {
    const clock = new FakeClock(T0);
    const endpoints = new InMemoryEndpointStore([anEndpoint({ id: 'ep_1' }), anEndpoint({ id: 'ep_2', failingSince: iso(-60) })]);
    const queue = new RecordingDeliveryQueue();
    const service = new DispatchService({ endpoints: new EndpointDirectory(endpoints, clock, 0), queue, clock });
    return { service, queue };
  }

  test('jobs of a message due in 42.3 s are queued with a 43 s delay on both lanes, carrying deliverAt; others go at once', async () => {
    const s = dispatchSetup();
    const soon = { ...scheduled(0, ['ep_1', 'ep_2'], 0, 1), deliverAt: new Date(T0.getTime() + 42_300).toISOString() };
    const now = aMessage({ id: scheduled(0, [], 0, 2).id, createdAt: iso(0), endpointIds: ['ep_1'] });
    expect(await s.service.dispatch([soon, now])).toBe(3);
    expect(s.queue.calls).toEqual([
      { tasks: firstAttemptJobs(soon, ['ep_1']), delaySeconds: 43, lane: 'primary' },
      { tasks: firstAttemptJobs(soon, ['ep_2']), delaySeconds: 43, lane: 'retry' },
      { tasks: firstAttemptJobs(now, ['ep_1']), delaySeconds: undefined, lane: 'primary' },
    ]);
    expect(s.queue.calls[0]?.tasks[0]).toMatchObject({ kind: 'first', deliverAt: soon.deliverAt });
    expect(s.queue.calls[2]?.tasks[0]).not.toHaveProperty('deliverAt');
  });
});

describe('DeliveryService: the first attempts of a scheduled message', () => {
  test('a job that arrives early goes back to wait on its lane, and nothing is sent or released', async () => {
    const message = scheduled(1800, ['ep_1']);
    const h = deliveryHarness({ endpoint: anEndpoint({ id: 'ep_1' }), message });
    const job = firstAttemptJobs(message, ['ep_1'])[0];
    if (!job) throw new Error('no job');
    const reports = await h.runFirst(job, 'primary');
    expect(reports).toEqual([expect.objectContaining({ kind: 'deferred', dueInSeconds: 1800 })]);
    expect(h.queue.calls).toEqual([{ tasks: [job], delaySeconds: 900, lane: 'primary' }]);
    expect(h.sender.requests).toEqual([]);
    expect(h.messages.releaseCalls).toEqual([]);
  });

  test('at its time the job releases the message and makes the attempt', async () => {
    const message = scheduled(0.5, ['ep_1'], -600);
    const h = deliveryHarness({ endpoint: anEndpoint({ id: 'ep_1' }), message });
    const reports = await h.runFirst(firstAttemptJobs(message, ['ep_1'])[0], 'primary');
    expect(reports.map((r) => r.kind)).toEqual(['attempted']);
    expect(h.messages.released.has(message.id)).toBe(true);
    expect(h.sender.requests).toHaveLength(1);
  });

  test('a cancelled message is never sent: every endpoint of the job is skipped, nothing is written', async () => {
    const message = { ...scheduled(0, ['ep_1', 'ep_2'], -600), cancelledAt: iso(-5) };
    const h = deliveryHarness({ endpoint: anEndpoint({ id: 'ep_1' }), message });
    const reports = await h.runFirst(firstAttemptJobs(message, ['ep_1', 'ep_2'])[0], 'primary');
    expect(reports.map((r) => [r.kind, 'reason' in r && r.reason])).toEqual([
      ['skipped', 'the message was cancelled before its deliverAt'],
      ['skipped', 'the message was cancelled before its deliverAt'],
    ]);
    expect(h.sender.requests).toEqual([]);
    expect(h.deliveries.deliveries.has(deliveryIdFor(message.id, 'ep_1'))).toBe(false);
  });
});

describe('SweeperService: scheduled messages beyond the queue delay', () => {
  function sweeperSetup(messages: readonly Message[]) {
    const clock = new FakeClock(T0);
    const store = new InMemoryMessageStore(messages);
    const dispatched = new InMemoryDispatchedMessages();
    for (const message of messages) dispatched.add(message);
    const queue = new RecordingDeliveryQueue();
    const endpoints = new InMemoryEndpointStore([anEndpoint({ id: 'ep_1' })]);
    const service = new SweeperService({
      due: new InMemoryDueWorkIndex(),
      deliveries: new InMemoryDeliveryStore(),
      messages: store,
      dispatched,
      endpoints: new EndpointDirectory(endpoints, clock, 0),
      deliveryQueue: queue,
      clock,
    });
    return { service, dispatched, queue, clock, store };
  }

  test('one due within the lookahead is handed over and queued with the rest of its wait; one further ahead stays', async () => {
    const near = scheduled(3 * 3600, ['ep_1'], -3 * 3600 + 100, 1);
    const far = scheduled(2 * 86_400, ['ep_1'], -60, 2);
    const s = sweeperSetup([near, far]);
    expect(s.dispatched.waiting.map((e) => e.messageId)).toEqual([near.id, far.id]);
    s.clock.advance(3 * 3600 * 1000 - 300_000);
    expect(await s.service.sweep()).toMatchObject({ scheduled: 1, messages: 0 });
    expect(s.queue.calls).toEqual([{ tasks: firstAttemptJobs(near, ['ep_1']), delaySeconds: 300, lane: 'primary' }]);
    expect(s.dispatched.waiting.map((e) => e.messageId)).toEqual([far.id]);
    // Handed over once: the next sweep queues nothing more.
    expect(await s.service.sweep()).toMatchObject({ scheduled: 0 });
    expect(s.queue.calls).toHaveLength(1);
  });

  test('a full page of entries already taken (the index lagging) ends the sweep instead of spinning', async () => {
    const s = sweeperSetup([]);
    let pages = 0;
    s.dispatched.scheduledBefore = async () => {
      pages++;
      return Array.from({ length: 500 }, (_, i) => scheduled(60, ['ep_1'], 0, i + 1).id);
    };
    expect(await s.service.sweep()).toMatchObject({ scheduled: 0 });
    expect(pages).toBe(1);
    expect(s.queue.calls).toEqual([]);
  });

  test('a cancelled message has left the index: the sweeper never queues it', async () => {
    const message = scheduled(3600, ['ep_1'], -60);
    const s = sweeperSetup([message]);
    s.dispatched.cancelled(message.id);
    s.clock.advance(3600 * 1000);
    expect(await s.service.sweep()).toMatchObject({ scheduled: 0, messages: 0 });
    expect(s.queue.calls).toEqual([]);
  });

  test('the lost-job check waits for a scheduled message until its deliverAt plus the grace, not its acceptance', async () => {
    const message = scheduled(300, ['ep_1'], -200);
    const s = sweeperSetup([message]);
    s.clock.advance(300_000);
    // Due now: its first attempt may just be running, so it is not checked yet.
    expect(await s.service.sweep()).toMatchObject({ messages: 0, checked: 0 });
    s.clock.advance(180_000);
    expect(await s.service.sweep()).toMatchObject({ messages: 1, checked: 1 });
    expect(s.queue.calls).toEqual([
      { tasks: firstAttemptJobs(message, ['ep_1'], { recheck: true }), delaySeconds: undefined, lane: 'retry' },
    ]);
    expect(s.queue.calls[0]?.tasks[0]).toMatchObject({ deliverAt: message.deliverAt });
  });
});
