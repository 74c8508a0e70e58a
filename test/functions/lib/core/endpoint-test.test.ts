import { DeliveryService } from '../../../../functions/lib/core/delivery.ts';
import { DispatchService } from '../../../../functions/lib/core/dispatch.ts';
import { EndpointDirectory } from '../../../../functions/lib/core/endpoint-directory.ts';
import { EndpointTester, PING_TYPE } from '../../../../functions/lib/core/endpoint-test.ts';
import { ConflictError, NotFoundError } from '../../../../functions/lib/core/errors.ts';
import { EventTypeCatalog } from '../../../../functions/lib/core/event-types.ts';
import { deliveryIdFor, hasPrefix, ulidIdGenerator } from '../../../../functions/lib/core/ids.ts';
import { jobOf } from '../../../../functions/lib/core/jobs.ts';
import { MessageService } from '../../../../functions/lib/core/messages.ts';
import type { Endpoint } from '../../../../functions/lib/core/model.ts';
import type { HttpResult } from '../../../../functions/lib/core/ports.ts';
import {
  anEndpoint,
  FakeClock,
  FakeRateLimiter,
  InMemoryDeliveryStore,
  InMemoryEndpointStore,
  InMemoryEventTypeStore,
  InMemoryMessageStore,
  RecordingDeliveryQueue,
  RecordingSystemEventPublisher,
  ScriptedHttpSender,
  SnapshotContextLoader,
  T0,
  TENANT,
} from './fakes.ts';

function setup(endpoint: Endpoint | undefined, answer: HttpResult = { durationMs: 8, statusCode: 204 }, cacheSeconds = 0) {
  const endpoints = new InMemoryEndpointStore(endpoint ? [endpoint] : []);
  const messageStore = new InMemoryMessageStore();
  const deliveries = new InMemoryDeliveryStore();
  const queue = new RecordingDeliveryQueue();
  const sender = new ScriptedHttpSender(answer);
  const clock = new FakeClock(T0);
  const directory = new EndpointDirectory(endpoints, clock, cacheSeconds);
  const loader = new SnapshotContextLoader(deliveries, endpoints, messageStore);
  const messages = new MessageService({
    messages: messageStore,
    eventTypes: new EventTypeCatalog(new InMemoryEventTypeStore(), clock, 0),
    validator: { checkSchema: () => [], validate: () => [] },
    endpoints: directory,
    clock,
    ids: ulidIdGenerator(() => clock.now().getTime()),
  });
  const delivery = new DeliveryService({
    deliveries,
    endpointStore: endpoints,
    endpoints: directory,
    loader,
    queue,
    sender,
    rateLimiter: new FakeRateLimiter(),
    systemEvents: new RecordingSystemEventPublisher(clock),
    messages: messageStore,
    clock,
    random: () => 0.5,
  });
  const tester = new EndpointTester({ endpoints, messages, delivery, clock });
  return { tester, endpoints, messageStore, deliveries, directory, loader, queue, sender, clock };
}

describe('EndpointTester.ping', () => {
  test('a sluice.ping message for this endpoint only, attempted at once; the answer carries the report', async () => {
    const endpoint = anEndpoint();
    const s = setup(endpoint);
    const { message, report } = await s.tester.ping(TENANT, endpoint.id);

    expect(PING_TYPE).toBe('sluice.ping');
    expect(hasPrefix(message.id, 'message')).toBe(true);
    expect(message).toStrictEqual({
      id: message.id,
      tenantId: TENANT,
      type: 'sluice.ping',
      payloadJson: message.payloadJson,
      createdAt: T0.toISOString(),
      endpointIds: [endpoint.id],
      attemptedInline: true,
    });
    expect(JSON.parse(message.payloadJson)).toEqual({ endpointId: endpoint.id, message: expect.any(String), sentAt: T0.toISOString() });
    expect(s.messageStore.messages.get(message.id)).toStrictEqual(message);

    const deliveryId = deliveryIdFor(message.id, endpoint.id);
    expect(report.ids).toEqual({ tenantId: message.tenantId, messageId: message.id, endpointId: endpoint.id, deliveryId });
    if (report.kind !== 'attempted') throw new Error(`expected an attempt, got ${report.kind}`);
    expect(report.attempt).toMatchObject({ deliveryId, attempt: 1, trigger: 'manual', outcome: 'succeeded', statusCode: 204 });
    expect(report.delivery).toMatchObject({ id: deliveryId, endpointId: endpoint.id, eventType: 'sluice.ping', status: 'succeeded' });
    // A success is final: written once, without a condition.
    expect(s.deliveries.settleCalls).toEqual([{ delivery: report.delivery, attempt: report.attempt }]);
    expect(s.deliveries.firstCalls).toEqual([]);
    expect(s.deliveries.deliveries.get(deliveryId)).toEqual(report.delivery);
    expect(s.deliveries.attempts.get(deliveryId)).toEqual([report.attempt]);

    expect(s.sender.requests).toHaveLength(1);
    expect(s.sender.requests[0]?.url).toBe(endpoint.url);
    expect(s.sender.requests[0]?.headers).toMatchObject({
      'webhook-id': message.id,
      'x-sluice-event-type': 'sluice.ping',
      'x-sluice-delivery-id': deliveryId,
      'x-sluice-attempt': '1',
    });
    expect(JSON.parse(s.sender.requests[0]?.body ?? '')).toMatchObject({ id: message.id, type: 'sluice.ping' });
    expect(s.queue.calls).toEqual([]);
  });

  test('the ping reads nothing back from the ledger: its small payload travels with the job', async () => {
    const endpoint = anEndpoint();
    const s = setup(endpoint);
    await s.tester.ping(TENANT, endpoint.id);
    expect(s.loader.loadCalls).toEqual([]);
  });

  test('dispatch leaves the ping alone: it is attempted where it was published, not queued', async () => {
    const endpoint = anEndpoint();
    const s = setup(endpoint);
    const { message } = await s.tester.ping(TENANT, endpoint.id);
    const dispatch = new DispatchService({ endpoints: s.directory, queue: s.queue, clock: s.clock });
    expect(await dispatch.dispatch([message])).toBe(0);
    expect(s.queue.calls).toEqual([]);
  });

  test('every ping is a new message', async () => {
    const endpoint = anEndpoint();
    const s = setup(endpoint);
    const first = await s.tester.ping(TENANT, endpoint.id);
    const second = await s.tester.ping(TENANT, endpoint.id);
    expect(first.message.id).not.toBe(second.message.id);
    expect(s.deliveries.deliveries.size).toBe(2);
    expect(s.sender.requests).toHaveLength(2);
  });

  test('a ping goes to the endpoint whatever its subscriptions', async () => {
    const endpoint = anEndpoint({ eventTypes: ['lock.unlocked'] });
    const s = setup(endpoint);
    const { report } = await s.tester.ping(TENANT, endpoint.id);
    expect(report.kind).toBe('attempted');
  });

  test("a failed ping is a delivery like any other: the endpoint's retry schedule takes over", async () => {
    const endpoint = anEndpoint();
    const s = setup(endpoint, { durationMs: 8, statusCode: 500 });
    const { report } = await s.tester.ping(TENANT, endpoint.id);
    if (report.kind !== 'attempted') throw new Error(`expected an attempt, got ${report.kind}`);
    expect(report.attempt).toMatchObject({ outcome: 'failed', trigger: 'manual', statusCode: 500 });
    expect(report.retryInSeconds).toBe(5);
    expect(report.delivery).toMatchObject({ status: 'failed', scheduledAttempts: 1, nextAttemptAt: '2025-03-01T12:00:05.000Z' });
    // Written only if no other run recorded it.
    expect(s.deliveries.firstCalls).toEqual([{ delivery: report.delivery, attempt: report.attempt }]);
    expect(s.deliveries.settleCalls).toEqual([]);
    expect(s.queue.calls).toEqual([{ tasks: [jobOf(report.delivery)], delaySeconds: 5, lane: 'retry' }]);
    expect(s.endpoints.failureCalls).toHaveLength(1);
  });

  test('a failing endpoint is pinged at once, not diverted, and a success ends its run of failures', async () => {
    const endpoint = anEndpoint({ failingSince: '2025-03-01T10:00:00.000Z', consecutiveFailures: 9 });
    const s = setup(endpoint);
    const { report } = await s.tester.ping(TENANT, endpoint.id);
    expect(report.kind).toBe('attempted');
    expect(s.sender.requests).toHaveLength(1);
    expect(s.endpoints.successCalls).toEqual([{ tenantId: TENANT, id: endpoint.id }]);
    expect(s.endpoints.endpoints.get(endpoint.id)?.failingSince).toBeUndefined();
    expect(s.queue.calls).toEqual([]);
  });

  test("an endpoint created a moment ago is pinged, though the directory's copy does not have it yet", async () => {
    const s = setup(undefined, { durationMs: 8, statusCode: 204 }, 5);
    expect(await s.directory.all(TENANT)).toEqual([]);
    const endpoint = anEndpoint();
    await s.endpoints.create(endpoint);
    const { report } = await s.tester.ping(TENANT, endpoint.id);
    expect(report.kind).toBe('attempted');
    expect(s.sender.requests.map((r) => r.url)).toEqual([endpoint.url]);
  });

  test("an unknown or another tenant's endpoint is a 404; nothing is created", async () => {
    const theirs = anEndpoint({ tenantId: 'ten_OTHER' });
    const s = setup(theirs);
    await expect(s.tester.ping(TENANT, theirs.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.tester.ping(TENANT, 'ep_01JN00000000000000000NONE')).rejects.toBeInstanceOf(NotFoundError);
    expect(s.messageStore.messages.size).toBe(0);
    expect(s.deliveries.deliveries.size).toBe(0);
    expect(s.sender.requests).toEqual([]);
  });

  test('a disabled endpoint is a 409; nothing is created or sent', async () => {
    const endpoint = anEndpoint({ disabled: true, disabledReason: 'by hand' });
    const s = setup(endpoint);
    await expect(s.tester.ping(TENANT, endpoint.id)).rejects.toBeInstanceOf(ConflictError);
    expect(s.messageStore.messages.size).toBe(0);
    expect(s.deliveries.deliveries.size).toBe(0);
    expect(s.sender.requests).toEqual([]);
  });
});
