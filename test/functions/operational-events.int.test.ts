/**
 * Integration (real local stack): operational events reach the endpoints that subscribe to them,
 * signed like any event, with payloads that match the schemas the event-type catalog publishes;
 * an endpoint subscribed to every type does not get them, and an operational event's own failed
 * delivery causes none.
 */
import Ajv2020 from 'ajv/dist/2020.js';
import { Webhook } from 'standardwebhooks';
import { operationalEventTypes } from '../../functions/lib/core/operational-events.ts';
import { type ReceivedRequest, receiverPool, respondWith } from '../support/receiver.ts';
import { call, createEndpoint, createTenant, eventually, postMessage, putEventType, type TestTenant } from '../support/stack.ts';

/** Every operational event, in the catalog's order. */
const operationalTypes: readonly string[] = operationalEventTypes;

interface Envelope {
  readonly id: string;
  readonly type: string;
  readonly data: Record<string, unknown>;
}

describe('operational events', () => {
  let tenant: TestTenant;
  const receivers = receiverPool();

  beforeAll(async () => {
    tenant = await createTenant();
    await putEventType(tenant, 'order.created');
  });

  afterAll(() => receivers.closeAll());

  test('each one arrives signed at its subscriber, matching its catalog schema; a catch-all endpoint gets none', async () => {
    const watcher = await receivers.start();
    const watcherEndpoint = await createEndpoint(tenant, { url: watcher.url, eventTypes: operationalTypes });
    const everything = await receivers.start();
    await createEndpoint(tenant, { url: everything.url });

    const received = (request: ReceivedRequest): Envelope => {
      // Signed with the watcher's own secret, like any delivery.
      new Webhook(watcherEndpoint.secret).verify(request.body, request.headers);
      return JSON.parse(request.body) as Envelope;
    };
    const eventsOf = (type: string) => watcher.requests.map(received).filter((event) => event.type === type);
    const waitFor = (type: string, what: (data: Record<string, unknown>) => boolean) =>
      eventually(async () => eventsOf(type).find((event) => what(event.data)), `${type} at the watcher`);

    // An endpoint whose receiver fails once, then recovers: created, updated, disabled, enabled; failing, recovered.
    const flaky = await receivers.start((_request, index, res) => respondWith(index === 0 ? 500 : 200)(_request, index, res));
    const flakyEndpoint = await createEndpoint(tenant, {
      url: flaky.url,
      eventTypes: ['order.created'],
      retryPolicy: { delaysSeconds: [1, 1] },
    });
    await waitFor('endpoint.created', (data) => data.endpointId === flakyEndpoint.id);
    expect((await call('PATCH', `/v1/endpoints/${flakyEndpoint.id}`, { key: tenant.key, body: { description: 'orders' } })).status).toBe(
      200,
    );
    await waitFor('endpoint.updated', (data) => data.endpointId === flakyEndpoint.id && data.description === 'orders');
    expect((await call('PATCH', `/v1/endpoints/${flakyEndpoint.id}`, { key: tenant.key, body: { disabled: true } })).status).toBe(200);
    await waitFor('endpoint.disabled', (data) => data.endpointId === flakyEndpoint.id && data.reason === 'disabled through the API');
    expect((await call('PATCH', `/v1/endpoints/${flakyEndpoint.id}`, { key: tenant.key, body: { disabled: false } })).status).toBe(200);
    await waitFor('endpoint.enabled', (data) => data.endpointId === flakyEndpoint.id && data.disabled === false);

    const order = await postMessage(tenant, 'order.created', { id: 'ord_1' });
    const failingEvent = await waitFor('message.attempt.failing', (data) => data.endpointId === flakyEndpoint.id);
    expect(failingEvent.data).toMatchObject({ messageId: order.id, eventType: 'order.created', lastStatusCode: 500 });
    const recovered = await waitFor('message.attempt.recovered', (data) => data.endpointId === flakyEndpoint.id);
    expect(recovered.data).toMatchObject({ messageId: order.id, failingSince: failingEvent.data.failingSince, failedAttempts: 1 });

    // An endpoint that always fails: its delivery goes dead after its two retries.
    const broken = await receivers.start(respondWith(503));
    const brokenEndpoint = await createEndpoint(tenant, {
      url: broken.url,
      eventTypes: ['order.created'],
      retryPolicy: { delaysSeconds: [1] },
    });
    await postMessage(tenant, 'order.created', { id: 'ord_2' });
    const exhausted = await waitFor('message.attempt.exhausted', (data) => data.endpointId === brokenEndpoint.id);
    expect(exhausted.data).toMatchObject({ eventType: 'order.created', attempts: 2, lastStatusCode: 503 });
    expect((await call('DELETE', `/v1/endpoints/${brokenEndpoint.id}`, { key: tenant.key })).status).toBe(204);
    await waitFor('endpoint.deleted', (data) => data.endpointId === brokenEndpoint.id);

    // Every payload matches the schema the catalog publishes for its type.
    const ajv = new Ajv2020({ strict: false });
    for (const type of operationalTypes) {
      const entry = await call<{ builtIn: boolean; schema: Record<string, unknown> }>('GET', `/v1/event-types/${type}`, {
        key: tenant.key,
      });
      expect({ type, status: entry.status, builtIn: entry.body.builtIn }).toEqual({ type, status: 200, builtIn: true });
      const validate = ajv.compile(entry.body.schema);
      const seen = eventsOf(type);
      expect({ type, seen: seen.length > 0 }).toEqual({ type, seen: true });
      for (const event of seen)
        expect({ type, valid: validate(event.data), errors: validate.errors ?? null }).toEqual({ type, valid: true, errors: null });
    }

    // Listed on request, after the tenant's own types.
    const listed = await call<{ data: { name: string }[] }>('GET', '/v1/event-types?builtIn=true&limit=100', { key: tenant.key });
    expect(listed.body.data.map((t) => t.name)).toEqual(['order.created', ...operationalTypes]);

    // The endpoint subscribed to every type got the orders, and no opt-in operational event.
    const everythingTypes = new Set(everything.requests.map((request) => (JSON.parse(request.body) as Envelope).type));
    expect([...everythingTypes].filter((type) => operationalTypes.includes(type) && type !== 'endpoint.disabled')).toEqual([]);
    expect(everythingTypes.has('order.created')).toBe(true);
  });

  test('an operational event whose own delivery is exhausted causes no further operational event', async () => {
    const other = await createTenant();
    const dead = await receivers.start(respondWith(500));
    const deadEndpoint = await createEndpoint(other, {
      url: dead.url,
      eventTypes: ['endpoint.created', 'message.attempt.exhausted', 'message.attempt.failing'],
      retryPolicy: { delaysSeconds: [1] },
    });
    // Another endpoint's creation event is delivered to it, fails twice, and goes dead.
    await createEndpoint(other, { url: (await receivers.start()).url });
    const deliveries = await eventually(async () => {
      const page = await call<{ data: { eventType: string; status: string }[] }>('GET', `/v1/endpoints/${deadEndpoint.id}/deliveries`, {
        key: other.key,
      });
      return page.body.data.some((d) => d.status === 'dead') ? page.body.data : undefined;
    }, 'the endpoint.created delivery to go dead');
    expect(deliveries.map((d) => d.eventType)).toEqual(['endpoint.created']);
    // No message.attempt.failing or .exhausted about it was stored for the tenant.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const messages = await call<{ data: { type: string }[] }>('GET', '/v1/messages?limit=100', { key: other.key });
    expect(messages.body.data.map((m) => m.type)).toEqual(['endpoint.created']);
  });
});
