import { DeliveryService, jobOf } from '../../../../functions/lib/core/delivery.ts';
import { EndpointTester, PING_TYPE } from '../../../../functions/lib/core/endpoint-test.ts';
import { ConflictError, NotFoundError } from '../../../../functions/lib/core/errors.ts';
import { deliveryIdFor, hasPrefix, ulidIdGenerator } from '../../../../functions/lib/core/ids.ts';
import type { Endpoint } from '../../../../functions/lib/core/model.ts';
import type { HttpResult } from '../../../../functions/lib/core/ports.ts';
import {
  anEndpoint,
  FakeClock,
  FakeRateLimiter,
  InMemoryDeliveryStore,
  InMemoryEndpointStore,
  InMemoryMessageStore,
  RecordingDeadLetterSink,
  RecordingDeliveryQueue,
  RecordingSystemEventPublisher,
  ScriptedHttpSender,
  SnapshotContextLoader,
  T0,
  TENANT,
} from './fakes.ts';

function setup(endpoint: Endpoint, answer: HttpResult = { durationMs: 8, statusCode: 204 }) {
  const endpoints = new InMemoryEndpointStore([endpoint]);
  const messages = new InMemoryMessageStore();
  const deliveries = new InMemoryDeliveryStore();
  const queue = new RecordingDeliveryQueue();
  const sender = new ScriptedHttpSender(answer);
  const clock = new FakeClock(T0);
  const delivery = new DeliveryService({
    deliveries,
    endpoints,
    loader: new SnapshotContextLoader(deliveries, endpoints, messages),
    queue,
    deadLetters: new RecordingDeadLetterSink(),
    sender,
    rateLimiter: new FakeRateLimiter(),
    systemEvents: new RecordingSystemEventPublisher(clock),
    clock,
    random: () => 0.5,
  });
  const tester = new EndpointTester({
    endpoints,
    messages,
    deliveries,
    delivery,
    clock,
    ids: ulidIdGenerator(() => clock.now().getTime()),
  });
  return { tester, endpoints, messages, deliveries, queue, sender, clock };
}

describe('EndpointTester.ping', () => {
  test('a sluice.ping message (already fanned out) and one delivery, attempted at once; the answer carries the report', async () => {
    const endpoint = anEndpoint();
    const s = setup(endpoint);
    const { message, report } = await s.tester.ping(TENANT, endpoint.id);

    expect(PING_TYPE).toBe('sluice.ping');
    expect(hasPrefix(message.id, 'message')).toBe(true);
    expect(message).toMatchObject({ tenantId: TENANT, type: 'sluice.ping', createdAt: T0.toISOString(), fannedOutAt: T0.toISOString() });
    expect(JSON.parse(message.payloadJson)).toEqual({ endpointId: endpoint.id, message: expect.any(String), sentAt: T0.toISOString() });
    expect(s.messages.messages.get(message.id)).toEqual(message);

    const deliveryId = deliveryIdFor(message.id, endpoint.id);
    expect([...s.deliveries.deliveries.keys()]).toEqual([deliveryId]);
    if (report.kind !== 'attempted') throw new Error(`expected an attempt, got ${report.kind}`);
    expect(report.attempt).toMatchObject({ deliveryId, attempt: 1, trigger: 'manual', outcome: 'succeeded', statusCode: 204 });
    expect(report.delivery).toMatchObject({ id: deliveryId, endpointId: endpoint.id, eventType: 'sluice.ping', status: 'succeeded' });
    expect(s.deliveries.deliveries.get(deliveryId)).toEqual(report.delivery);

    expect(s.sender.requests).toHaveLength(1);
    expect(s.sender.requests[0]?.url).toBe(endpoint.url);
    expect(s.sender.requests[0]?.headers).toMatchObject({ 'webhook-id': message.id, 'x-sluice-event-type': 'sluice.ping' });
    expect(JSON.parse(s.sender.requests[0]?.body ?? '')).toMatchObject({ id: message.id, type: 'sluice.ping' });
    expect(s.queue.calls).toEqual([]);
  });

  test("a failed ping is a delivery like any other: the endpoint's retry schedule takes over", async () => {
    const endpoint = anEndpoint();
    const s = setup(endpoint, { durationMs: 8, statusCode: 500 });
    const { report } = await s.tester.ping(TENANT, endpoint.id);
    if (report.kind !== 'attempted') throw new Error(`expected an attempt, got ${report.kind}`);
    expect(report.attempt.outcome).toBe('failed');
    expect(report.retryInSeconds).toBe(5);
    expect(report.delivery).toMatchObject({ status: 'failed', scheduledAttempts: 1, nextAttemptAt: '2025-03-01T12:00:05.000Z' });
    expect(s.queue.calls).toEqual([{ jobs: [jobOf(report.delivery)], delaySeconds: 5, lane: 'retry' }]);
    expect(s.endpoints.failureCalls).toHaveLength(1);
  });

  test('a failing endpoint is pinged at once, not diverted, and a success ends its run of failures', async () => {
    const endpoint = anEndpoint({ failingSince: '2025-03-01T10:00:00.000Z', consecutiveFailures: 9 });
    const s = setup(endpoint);
    const { report } = await s.tester.ping(TENANT, endpoint.id);
    expect(report.kind).toBe('attempted');
    expect(s.sender.requests).toHaveLength(1);
    expect(s.endpoints.endpoints.get(endpoint.id)?.failingSince).toBeUndefined();
  });

  test("an unknown or another tenant's endpoint is a 404; nothing is created", async () => {
    const theirs = anEndpoint({ tenantId: 'ten_OTHER' });
    const s = setup(theirs);
    await expect(s.tester.ping(TENANT, theirs.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.tester.ping(TENANT, 'ep_01JN00000000000000000NONE')).rejects.toBeInstanceOf(NotFoundError);
    expect(s.messages.messages.size).toBe(0);
    expect(s.deliveries.deliveries.size).toBe(0);
    expect(s.sender.requests).toEqual([]);
  });

  test('a disabled endpoint is a 409; nothing is created or sent', async () => {
    const endpoint = anEndpoint({ disabled: true, disabledReason: 'by hand' });
    const s = setup(endpoint);
    await expect(s.tester.ping(TENANT, endpoint.id)).rejects.toBeInstanceOf(ConflictError);
    expect(s.messages.messages.size).toBe(0);
    expect(s.deliveries.deliveries.size).toBe(0);
    expect(s.sender.requests).toEqual([]);
  });
});
