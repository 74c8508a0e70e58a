import { FanOutService, isSubscribed } from '../../../../functions/lib/core/fan-out.ts';
import { deliveryIdFor } from '../../../../functions/lib/core/ids.ts';
import type { Endpoint, Message } from '../../../../functions/lib/core/model.ts';
import {
  aMessage,
  anEndpoint,
  FakeClock,
  InMemoryDeliveryStore,
  InMemoryEndpointStore,
  InMemoryMessageStore,
  RecordingDeliveryQueue,
  T0,
  TENANT,
} from './fakes.ts';

const all = anEndpoint({ id: 'ep_ALL' });
const locks = anEndpoint({ id: 'ep_LOCKS', eventTypes: ['lock.unlocked', 'lock.locked'] });
const users = anEndpoint({ id: 'ep_USERS', eventTypes: ['user.updated'] });
const paused = anEndpoint({ id: 'ep_PAUSED', disabled: true, disabledReason: 'by hand' });
const otherTenant = anEndpoint({ id: 'ep_OTHER', tenantId: 'ten_OTHER' });

function setup(endpoints: readonly Endpoint[], messages: readonly Message[] = [aMessage()]) {
  const messageStore = new InMemoryMessageStore(messages);
  const endpointStore = new InMemoryEndpointStore(endpoints);
  const deliveries = new InMemoryDeliveryStore();
  const queue = new RecordingDeliveryQueue();
  const clock = new FakeClock(T0);
  const service = new FanOutService({ messages: messageStore, endpoints: endpointStore, deliveries, queue, clock });
  return { service, messageStore, endpointStore, deliveries, queue, clock };
}

describe('isSubscribed', () => {
  test('no eventTypes means every type; a list means only those', () => {
    expect(isSubscribed(all, 'anything.at_all')).toBe(true);
    expect(isSubscribed(locks, 'lock.locked')).toBe(true);
    expect(isSubscribed(locks, 'user.updated')).toBe(false);
    expect(isSubscribed(anEndpoint({ eventTypes: [] }), 'lock.locked')).toBe(false);
  });

  test('device.command is never routed by subscription', () => {
    expect(isSubscribed(all, 'device.command')).toBe(false);
    expect(isSubscribed(anEndpoint({ eventTypes: ['device.command'] }), 'device.command')).toBe(false);
  });
});

describe('FanOutService.fanOut', () => {
  test('creates one pending delivery per subscribed endpoint of the tenant and enqueues their jobs', async () => {
    const s = setup([all, locks, users, otherTenant]);
    const message = aMessage();
    const report = await s.service.fanOut({ messageId: message.id, tenantId: TENANT });
    expect(report).toEqual({ kind: 'fanned-out', messageId: message.id, deliveries: 2, created: 2 });
    const ids = [deliveryIdFor(message.id, all.id), deliveryIdFor(message.id, locks.id)];
    expect([...s.deliveries.deliveries.keys()].sort()).toEqual([...ids].sort());
    for (const [id, endpoint] of [
      [ids[0], all],
      [ids[1], locks],
    ] as const) {
      expect(s.deliveries.deliveries.get(id ?? '')).toEqual({
        id,
        tenantId: TENANT,
        messageId: message.id,
        endpointId: endpoint.id,
        eventType: message.type,
        status: 'pending',
        attemptCount: 0,
        scheduledAttempts: 0,
        nextAttemptAt: T0.toISOString(),
        createdAt: T0.toISOString(),
        updatedAt: T0.toISOString(),
      });
    }
    expect(s.queue.calls).toHaveLength(1);
    expect(s.queue.calls[0]?.delaySeconds).toBeUndefined();
    expect(s.queue.calls[0]?.lane).toBe('primary');
    expect(s.queue.jobs).toEqual([
      { deliveryId: ids[0], tenantId: TENANT, messageId: message.id, endpointId: all.id },
      { deliveryId: ids[1], tenantId: TENANT, messageId: message.id, endpointId: locks.id },
    ]);
    expect(s.messageStore.messages.get(message.id)?.fannedOutAt).toBe(T0.toISOString());
  });

  test('a disabled endpoint gets an undated delivery and no job', async () => {
    const s = setup([all, paused]);
    const message = aMessage();
    await s.service.fanOut({ messageId: message.id, tenantId: TENANT });
    const pausedDelivery = s.deliveries.deliveries.get(deliveryIdFor(message.id, paused.id));
    expect(pausedDelivery?.status).toBe('pending');
    expect(pausedDelivery?.nextAttemptAt).toBeUndefined();
    expect(s.queue.jobs.map((j) => j.endpointId)).toEqual([all.id]);
  });

  test('a device.command message reaches no endpoint by subscription', async () => {
    const command = aMessage({ type: 'device.command' });
    const s = setup([all, anEndpoint({ id: 'ep_DEV', eventTypes: ['device.command'], deviceId: 'd-1' })], [command]);
    const report = await s.service.fanOut({ messageId: command.id, tenantId: TENANT });
    expect(report).toEqual({ kind: 'fanned-out', messageId: command.id, deliveries: 0, created: 0 });
    expect(s.deliveries.deliveries.size).toBe(0);
    expect(s.queue.calls).toEqual([]);
  });

  test('no subscriber: nothing is created or enqueued, the message is still marked fanned out', async () => {
    const s = setup([users]);
    const report = await s.service.fanOut({ messageId: aMessage().id, tenantId: TENANT });
    expect(report).toMatchObject({ deliveries: 0, created: 0 });
    expect(s.queue.calls).toEqual([]);
    expect(s.messageStore.messages.get(aMessage().id)?.fannedOutAt).toBeDefined();
  });

  test('a second run after a crash creates no duplicate deliveries (derived ids)', async () => {
    const s = setup([all, locks, paused]);
    const message = aMessage();
    s.messageStore.failNextMarkFannedOut = new Error('crashed before marking');
    await expect(s.service.fanOut({ messageId: message.id, tenantId: TENANT })).rejects.toThrow('crashed before marking');
    const firstIds = [...s.deliveries.deliveries.keys()].sort();
    expect(firstIds).toHaveLength(3);

    s.clock.advance(60_000);
    const report = await s.service.fanOut({ messageId: message.id, tenantId: TENANT });
    expect(report).toEqual({ kind: 'fanned-out', messageId: message.id, deliveries: 3, created: 0 });
    expect([...s.deliveries.deliveries.keys()].sort()).toEqual(firstIds);
    // The deliveries of the first run are kept as they were.
    for (const delivery of s.deliveries.deliveries.values()) expect(delivery.createdAt).toBe(T0.toISOString());
    // Each delivery is enqueued once, by the run that created it; the second run adds no job.
    expect(s.queue.jobs.map((j) => j.deliveryId).sort()).toEqual(firstIds.filter((id) => id !== deliveryIdFor(message.id, paused.id)));
  });

  test('an already fanned-out message is a no-op', async () => {
    const message = aMessage({ fannedOutAt: '2025-03-01T11:59:59.500Z' });
    const s = setup([all, locks], [message]);
    const report = await s.service.fanOut({ messageId: message.id, tenantId: TENANT });
    expect(report).toEqual({ kind: 'already-fanned-out', messageId: message.id });
    expect(s.deliveries.deliveries.size).toBe(0);
    expect(s.queue.calls).toEqual([]);
    expect(s.messageStore.messages.get(message.id)?.fannedOutAt).toBe('2025-03-01T11:59:59.500Z');
  });

  test('running fanOut twice in a row: the second is a no-op', async () => {
    const s = setup([all]);
    await s.service.fanOut({ messageId: aMessage().id, tenantId: TENANT });
    const second = await s.service.fanOut({ messageId: aMessage().id, tenantId: TENANT });
    expect(second.kind).toBe('already-fanned-out');
    expect(s.deliveries.deliveries.size).toBe(1);
    expect(s.queue.jobs).toHaveLength(1);
  });

  test('an unknown message is reported', async () => {
    const s = setup([all]);
    expect(await s.service.fanOut({ messageId: 'msg_NOPE', tenantId: TENANT })).toEqual({ kind: 'unknown-message', messageId: 'msg_NOPE' });
    expect(s.queue.calls).toEqual([]);
  });

  test("another tenant's message is reported as unknown", async () => {
    const s = setup([all]);
    const report = await s.service.fanOut({ messageId: aMessage().id, tenantId: 'ten_OTHER' });
    expect(report.kind).toBe('unknown-message');
    expect(s.deliveries.deliveries.size).toBe(0);
    expect(s.messageStore.messages.get(aMessage().id)?.fannedOutAt).toBeUndefined();
  });
});

describe('FanOutService.fanOut: lanes', () => {
  const failing = anEndpoint({ id: 'ep_FAILING', failingSince: '2025-03-01T10:00:00.000Z', consecutiveFailures: 12 });

  test("healthy endpoints' jobs go to the primary lane, failing endpoints' to the retry lane, with no delay", async () => {
    const s = setup([all, failing, paused]);
    const message = aMessage();
    await s.service.fanOut({ messageId: message.id, tenantId: TENANT });
    const job = (endpointId: string) => ({
      deliveryId: deliveryIdFor(message.id, endpointId),
      tenantId: TENANT,
      messageId: message.id,
      endpointId,
    });
    expect(s.queue.calls).toEqual([
      { jobs: [job(all.id)], delaySeconds: undefined, lane: 'primary' },
      { jobs: [job(failing.id)], delaySeconds: undefined, lane: 'retry' },
    ]);
    // The failing endpoint's delivery is an ordinary new delivery; only its queue differs.
    expect(s.deliveries.deliveries.get(deliveryIdFor(message.id, failing.id))).toMatchObject({
      status: 'pending',
      attemptCount: 0,
      scheduledAttempts: 0,
      nextAttemptAt: T0.toISOString(),
    });
  });

  test('only failing endpoints: a single call, on the retry lane', async () => {
    const s = setup([failing]);
    await s.service.fanOut({ messageId: aMessage().id, tenantId: TENANT });
    expect(s.queue.calls.map((c) => c.lane)).toEqual(['retry']);
    expect(s.queue.jobsOn('primary')).toEqual([]);
  });

  test('only the deliveries this run created are enqueued (one a concurrent run created is left to that run)', async () => {
    const s = setup([all, locks]);
    const message = aMessage();
    const theirs = {
      id: deliveryIdFor(message.id, all.id),
      tenantId: TENANT,
      messageId: message.id,
      endpointId: all.id,
      eventType: message.type,
      status: 'failed' as const,
      attemptCount: 1,
      scheduledAttempts: 1,
      nextAttemptAt: '2025-03-01T12:00:05.000Z',
      createdAt: '2025-03-01T11:59:59.900Z',
      updatedAt: '2025-03-01T12:00:00.000Z',
    };
    await s.deliveries.createMany([theirs]);
    const report = await s.service.fanOut({ messageId: message.id, tenantId: TENANT });
    expect(report).toEqual({ kind: 'fanned-out', messageId: message.id, deliveries: 2, created: 1 });
    expect(s.queue.jobs.map((j) => j.endpointId)).toEqual([locks.id]);
    expect(s.deliveries.deliveries.get(theirs.id)).toEqual(theirs);
  });
});

describe('FanOutService.deliver (targeted sends)', () => {
  test('delivers a device.command to the endpoints it is given, whatever their eventTypes', async () => {
    const command = aMessage({ id: 'msg_01JN0000000000000000000CMD', type: 'device.command' });
    const device = anEndpoint({ id: 'ep_DEVICE', eventTypes: ['lock.locked'], deviceId: 'dev-1' });
    const s = setup([device], [command]);
    const report = await s.service.deliver(command, [device]);
    expect(report).toEqual({ kind: 'fanned-out', messageId: command.id, deliveries: 1, created: 1 });
    expect(s.queue.jobs).toEqual([
      { deliveryId: deliveryIdFor(command.id, device.id), tenantId: TENANT, messageId: command.id, endpointId: device.id },
    ]);
  });
});
