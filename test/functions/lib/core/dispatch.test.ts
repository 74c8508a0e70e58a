import { DispatchService, firstAttemptJobs, isSubscribed } from '../../../../functions/lib/core/dispatch.ts';
import { EndpointDirectory } from '../../../../functions/lib/core/endpoint-directory.ts';
import { FirstAttemptJob, MAX_ENDPOINTS_PER_JOB, MAX_INLINE_PAYLOAD_BYTES } from '../../../../functions/lib/core/jobs.ts';
import type { Endpoint, Message } from '../../../../functions/lib/core/model.ts';
import { aMessage, anEndpoint, FakeClock, firstJobFor, InMemoryEndpointStore, RecordingDeliveryQueue, T0, TENANT } from './fakes.ts';

const OTHER = 'ten_01JN00000000000000000OTHER';

const all = anEndpoint({ id: 'ep_ALL' });
const locks = anEndpoint({ id: 'ep_LOCKS', eventTypes: ['lock.unlocked', 'lock.locked'] });
const failing = anEndpoint({ id: 'ep_FAILING', failingSince: '2025-03-01T10:00:00.000Z', consecutiveFailures: 12 });
const paused = anEndpoint({ id: 'ep_PAUSED', disabled: true, disabledReason: 'by hand' });

const endpointIds = (n: number, prefix = 'ep_') => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(2, '0')}`);

describe('isSubscribed', () => {
  test('no eventTypes means every type; a list means only those', () => {
    expect(isSubscribed(all, 'anything.at_all')).toBe(true);
    expect(isSubscribed(all, 'endpoint.disabled')).toBe(true);
    expect(isSubscribed(locks, 'lock.locked')).toBe(true);
    expect(isSubscribed(locks, 'user.updated')).toBe(false);
    expect(isSubscribed(anEndpoint({ eventTypes: [] }), 'lock.locked')).toBe(false);
  });

  test('device.command is never routed by subscription', () => {
    expect(isSubscribed(all, 'device.command')).toBe(false);
    expect(isSubscribed(anEndpoint({ eventTypes: ['device.command'] }), 'device.command')).toBe(false);
    expect(isSubscribed(anEndpoint({ eventTypes: ['device.command'], deviceId: 'dev-1' }), 'device.command')).toBe(false);
  });

  test('subscription does not look at health or whether the endpoint is enabled', () => {
    expect(isSubscribed(paused, 'lock.locked')).toBe(true);
    expect(isSubscribed(failing, 'lock.locked')).toBe(true);
  });
});

describe('firstAttemptJobs', () => {
  const message = aMessage();

  test('one endpoint: one job with the message, its type, its time and its payload', () => {
    const jobs = firstAttemptJobs(message, [all.id]);
    expect(jobs).toStrictEqual([
      {
        kind: 'first',
        tenantId: TENANT,
        messageId: message.id,
        type: message.type,
        createdAt: message.createdAt,
        endpointIds: [all.id],
        payloadJson: message.payloadJson,
      },
    ]);
    expect(jobs).toStrictEqual([firstJobFor(message, [all.id])]);
  });

  test('no endpoints: no job', () => {
    expect(firstAttemptJobs(message, [])).toEqual([]);
  });

  test.each([
    [1, [1]],
    [9, [9]],
    [10, [10]],
    [11, [10, 1]],
    [20, [10, 10]],
    [25, [10, 10, 5]],
  ])('%i endpoints: jobs of %j endpoints, in order', (count, sizes) => {
    expect(MAX_ENDPOINTS_PER_JOB).toBe(10);
    const ids = endpointIds(count);
    const jobs = firstAttemptJobs(message, ids);
    expect(jobs.map((j) => j.endpointIds.length)).toEqual(sizes);
    expect(jobs.flatMap((j) => j.endpointIds)).toEqual(ids);
    for (const job of jobs) {
      expect(job).toMatchObject({ kind: 'first', messageId: message.id, tenantId: TENANT, payloadJson: message.payloadJson });
      // Every job is a valid queue task.
      expect(FirstAttemptJob.parse(job)).toEqual(job);
    }
  });

  test('a payload of up to 48 KiB travels in the job; a larger one is left in the ledger', () => {
    expect(MAX_INLINE_PAYLOAD_BYTES).toBe(48 * 1024);
    // {"d":"…"} is 8 bytes around the string.
    const atLimit = aMessage({ payloadJson: JSON.stringify({ d: 'x'.repeat(MAX_INLINE_PAYLOAD_BYTES - 8) }) });
    expect(Buffer.byteLength(atLimit.payloadJson)).toBe(MAX_INLINE_PAYLOAD_BYTES);
    expect(firstAttemptJobs(atLimit, endpointIds(12)).map((j) => j.payloadJson)).toEqual([atLimit.payloadJson, atLimit.payloadJson]);

    const over = aMessage({ payloadJson: JSON.stringify({ d: 'x'.repeat(MAX_INLINE_PAYLOAD_BYTES - 7) }) });
    const jobs = firstAttemptJobs(over, endpointIds(12));
    expect(jobs).toHaveLength(2);
    for (const job of jobs) {
      expect(job).not.toHaveProperty('payloadJson');
      expect(job).toMatchObject({ kind: 'first', messageId: over.id, type: over.type, createdAt: over.createdAt });
    }
  });

  test('the inline limit counts UTF-8 bytes, not characters', () => {
    const wide = aMessage({ payloadJson: JSON.stringify({ d: 'é'.repeat((MAX_INLINE_PAYLOAD_BYTES - 8) / 2 + 1) }) });
    expect(wide.payloadJson.length).toBeLessThan(MAX_INLINE_PAYLOAD_BYTES);
    expect(firstAttemptJobs(wide, [all.id])[0]).not.toHaveProperty('payloadJson');
  });
});

function setup(endpoints: readonly Endpoint[], cacheSeconds = 0) {
  const store = new InMemoryEndpointStore(endpoints);
  const clock = new FakeClock(T0);
  const directory = new EndpointDirectory(store, clock, cacheSeconds);
  const queue = new RecordingDeliveryQueue();
  const service = new DispatchService({ endpoints: directory, queue, clock });
  return { service, store, directory, queue, clock };
}

describe('firstAttemptJobs: jobs sent again', () => {
  test('recheck marks every job, and the jobs still parse as queue tasks', () => {
    const message = aMessage({ endpointIds: ['ep_A', 'ep_B'] });
    const jobs = firstAttemptJobs(message, ['ep_A', 'ep_B'], { recheck: true });
    expect(jobs.map((job) => job.recheck)).toEqual([true]);
    expect(FirstAttemptJob.parse(JSON.parse(JSON.stringify(jobs[0])))).toEqual(jobs[0]);
    expect(firstAttemptJobs(message, ['ep_A'])[0]).not.toHaveProperty('recheck');
  });
});

describe('DispatchService.dispatch', () => {
  test("a message's first attempts go to the primary lane, one job for its endpoints", async () => {
    const s = setup([all, locks]);
    const message = aMessage({ endpointIds: [all.id, locks.id] });
    expect(await s.service.dispatch([message])).toBe(1);
    expect(s.queue.calls).toEqual([{ tasks: [firstJobFor(message, [all.id, locks.id])], delaySeconds: undefined, lane: 'primary' }]);
  });

  test('failing endpoints wait in the retry lane; the others, disabled ones included, go to the primary lane', async () => {
    const s = setup([all, failing, paused]);
    const message = aMessage({ endpointIds: [all.id, failing.id, paused.id] });
    expect(await s.service.dispatch([message])).toBe(2);
    expect(s.queue.calls).toEqual([
      { tasks: [firstJobFor(message, [all.id, paused.id])], delaySeconds: undefined, lane: 'primary' },
      { tasks: [firstJobFor(message, [failing.id])], delaySeconds: undefined, lane: 'retry' },
    ]);
  });

  test('only failing endpoints: a single call, on the retry lane', async () => {
    const s = setup([failing]);
    await s.service.dispatch([aMessage({ endpointIds: [failing.id] })]);
    expect(s.queue.calls.map((c) => c.lane)).toEqual(['retry']);
    expect(s.queue.jobsOn('primary')).toEqual([]);
  });

  test('an endpoint deleted since routing is dispatched on the primary lane (its first attempt closes the delivery)', async () => {
    const s = setup([all]);
    const message = aMessage({ endpointIds: [all.id, 'ep_GONE'] });
    await s.service.dispatch([message]);
    expect(s.queue.calls).toEqual([{ tasks: [firstJobFor(message, [all.id, 'ep_GONE'])], delaySeconds: undefined, lane: 'primary' }]);
  });

  test('a batch of messages costs one queue call per lane, whatever the tenants', async () => {
    const theirs = anEndpoint({ id: 'ep_THEIRS', tenantId: OTHER });
    const theirsFailing = anEndpoint({ id: 'ep_THEIRS_FAILING', tenantId: OTHER, failingSince: '2025-03-01T11:00:00.000Z' });
    const s = setup([all, locks, failing, theirs, theirsFailing]);
    const m1 = aMessage({ id: 'msg_01JN00000000000000000000M1', endpointIds: [all.id, failing.id] });
    const m2 = aMessage({ id: 'msg_01JN00000000000000000000M2', endpointIds: [locks.id] });
    const m3 = aMessage({ id: 'msg_01JN00000000000000000000M3', tenantId: OTHER, endpointIds: [theirs.id, theirsFailing.id] });
    expect(await s.service.dispatch([m1, m2, m3])).toBe(5);
    expect(s.queue.calls).toEqual([
      {
        tasks: [firstJobFor(m1, [all.id]), firstJobFor(m2, [locks.id]), firstJobFor(m3, [theirs.id])],
        delaySeconds: undefined,
        lane: 'primary',
      },
      { tasks: [firstJobFor(m1, [failing.id]), firstJobFor(m3, [theirsFailing.id])], delaySeconds: undefined, lane: 'retry' },
    ]);
  });

  test('many endpoints: ten to a job, split by lane', async () => {
    const healthy = endpointIds(12, 'ep_H').map((id) => anEndpoint({ id }));
    const sick = endpointIds(11, 'ep_S').map((id) => anEndpoint({ id, failingSince: '2025-03-01T11:00:00.000Z' }));
    const s = setup([...healthy, ...sick]);
    const message = aMessage({ endpointIds: [...healthy, ...sick].map((e) => e.id) });
    expect(await s.service.dispatch([message])).toBe(4);
    expect(s.queue.calls.map((c) => [c.lane, c.tasks.map((t) => ('endpointIds' in t ? t.endpointIds.length : 0))])).toEqual([
      ['primary', [10, 2]],
      ['retry', [10, 1]],
    ]);
    expect(s.queue.jobsOn('primary').flatMap((t) => ('endpointIds' in t ? t.endpointIds : []))).toEqual(healthy.map((e) => e.id));
    expect(s.queue.jobsOn('retry').flatMap((t) => ('endpointIds' in t ? t.endpointIds : []))).toEqual(sick.map((e) => e.id));
  });

  test("a large payload stays in the ledger: the message's jobs carry none", async () => {
    const s = setup([all]);
    const big = aMessage({ endpointIds: [all.id], payloadJson: JSON.stringify({ d: 'x'.repeat(MAX_INLINE_PAYLOAD_BYTES) }) });
    await s.service.dispatch([big]);
    expect(s.queue.firstJobs).toEqual([firstJobFor(big, [all.id], false)]);
  });

  test('messages attempted inline, and messages with no endpoints, are left alone', async () => {
    const s = setup([all]);
    const inline = aMessage({ id: 'msg_01JN0000000000000000INLINE', endpointIds: [all.id], attemptedInline: true });
    const none = aMessage({ id: 'msg_01JN000000000000000000NONE' });
    const empty = aMessage({ id: 'msg_01JN00000000000000000EMPTY', endpointIds: [] });
    const normal = aMessage({ id: 'msg_01JN0000000000000000NORMAL', endpointIds: [all.id] });
    expect(await s.service.dispatch([inline, none, empty, normal])).toBe(1);
    expect(s.queue.tasks).toEqual([firstJobFor(normal, [all.id])]);
  });

  test('nothing to dispatch: no queue call', async () => {
    const s = setup([all]);
    expect(await s.service.dispatch([])).toBe(0);
    expect(await s.service.dispatch([aMessage(), aMessage({ endpointIds: [all.id], attemptedInline: true })])).toBe(0);
    expect(s.queue.calls).toEqual([]);
  });

  test("the lane follows the endpoints' health as the directory sees it, within its cache", async () => {
    const s = setup([all], 5);
    const message = aMessage({ endpointIds: [all.id] });
    await s.service.dispatch([message]);
    // The endpoint starts failing; the directory's copy is up to 5 s old until it is invalidated.
    await s.store.recordFailure(TENANT, all.id, T0.toISOString());
    await s.service.dispatch([message]);
    s.directory.invalidate(TENANT);
    await s.service.dispatch([message]);
    expect(s.queue.calls.map((c) => c.lane)).toEqual(['primary', 'primary', 'retry']);
  });

  test("a batch reads each tenant's endpoints once, through the directory", async () => {
    const s = setup([all], 5);
    const listAll = jest.spyOn(s.store, 'listAll');
    const batch = Array.from({ length: 20 }, (_, i) => aMessage({ id: `msg_01JN${String(i).padStart(22, '0')}`, endpointIds: [all.id] }));
    await s.service.dispatch(batch);
    expect(listAll).toHaveBeenCalledTimes(1);
    expect(s.queue.calls).toHaveLength(1);
    expect(s.queue.firstJobs).toHaveLength(20);
  });

  test('a queue failure fails the dispatch, so the stream retries the batch', async () => {
    const s = setup([all]);
    s.queue.failWith = new Error('SQS unreachable');
    await expect(s.service.dispatch([aMessage({ endpointIds: [all.id] })])).rejects.toThrow('SQS unreachable');
  });

  test('a stored message with endpointIds dispatches exactly its endpoints, not the current subscribers', async () => {
    const s = setup([all, locks, anEndpoint({ id: 'ep_NEW' })]);
    const message: Message = aMessage({ endpointIds: [locks.id] });
    await s.service.dispatch([message]);
    expect(s.queue.firstJobs.flatMap((j) => j.endpointIds)).toEqual([locks.id]);
  });
});
