/**
 * Integration (real local stack): endpoint filters pick exactly the endpoints whose filter holds
 * for a message, on nested fields, arrays, numbers and metadata; a filtered-out pair gets no
 * delivery item at all; invalid filters are refused with what to fix; the test routes explain.
 */
import { Webhook } from 'standardwebhooks';
import { receiverPool } from '../support/receiver.ts';
import { type CreatedEndpoint, call, createEndpoint, createTenant, eventually, putEventType, type TestTenant } from '../support/stack.ts';

interface Order {
  readonly amount: number;
  readonly customer: { readonly plan: string };
  readonly tags: readonly string[];
  readonly items: readonly { readonly sku: string }[];
}

describe('endpoint filters', () => {
  let tenant: TestTenant;
  const receivers = receiverPool();

  beforeAll(async () => {
    tenant = await createTenant();
    await putEventType(tenant, 'order.created');
  });

  afterAll(() => receivers.closeAll());

  async function post(payload: Order, metadata?: Record<string, string>): Promise<string> {
    const response = await call<{ id: string }>('POST', '/v1/messages', {
      key: tenant.key,
      body: { type: 'order.created', payload, ...(metadata && { metadata }) },
    });
    expect(response.status).toBe(202);
    return response.body.id;
  }

  test('five endpoints, three messages: each message reaches exactly the endpoints whose filter holds, signed; no other delivery is written', async () => {
    const filters: Record<string, Record<string, unknown>> = {
      big: { 'data.amount': { $gte: 100 } },
      pro: { data: { customer: { plan: 'pro' } } },
      vip: { 'data.tags': 'vip' },
      euOrX1: { $or: [{ 'metadata.region': { $startsWith: 'eu-' } }, { 'data.items.sku': { $in: ['X-1'] } }] },
      never: { 'data.amount': { $lt: 0 } },
    };
    const endpoints: Record<string, { endpoint: CreatedEndpoint; receiver: Awaited<ReturnType<typeof receivers.start>> }> = {};
    for (const [name, filter] of Object.entries(filters)) {
      const receiver = await receivers.start();
      const endpoint = await createEndpoint(tenant, { url: receiver.url, eventTypes: ['order.created'], filter });
      expect(endpoint.filter).toEqual(filter);
      endpoints[name] = { endpoint, receiver };
    }

    const m1 = await post({ amount: 150, customer: { plan: 'free' }, tags: [], items: [{ sku: 'X-1' }] }, { region: 'us-east-1' });
    const m2 = await post(
      { amount: 50, customer: { plan: 'pro' }, tags: ['new', 'vip'], items: [{ sku: 'A-2' }] },
      { region: 'eu-west-1' },
    );
    const m3 = await post({ amount: 100, customer: { plan: 'pro' }, tags: ['new'], items: [] });
    const expected: Record<string, string[]> = {
      big: [m1, m3],
      pro: [m2, m3],
      vip: [m2],
      euOrX1: [m1, m2],
      never: [],
    };

    // The ledger: each message has a delivery for exactly its matching endpoints, each settled.
    const idOf = (name: string) => endpoints[name]?.endpoint.id;
    for (const message of [m1, m2, m3]) {
      const wanted = Object.keys(expected)
        .filter((name) => expected[name]?.includes(message))
        .map(idOf)
        .sort();
      const deliveries = await eventually(async () => {
        const page = await call<{ data: { endpointId: string; status: string }[] }>('GET', `/v1/messages/${message}/deliveries`, {
          key: tenant.key,
        });
        return page.body.data.length === wanted.length && page.body.data.every((d) => d.status === 'succeeded')
          ? page.body.data
          : undefined;
      }, `the deliveries of ${message}`);
      expect(deliveries.map((d) => d.endpointId).sort()).toEqual(wanted);
    }

    // The receivers: each got its messages once, signed with its own secret, and nothing else.
    for (const [name, { endpoint, receiver }] of Object.entries(endpoints)) {
      const got = receiver.requests.map((request) => {
        expect(new Webhook(endpoint.secret).verify(request.body, request.headers)).toBeTruthy();
        return request.headers['webhook-id'];
      });
      expect({ name, got: got.sort() }).toEqual({ name, got: [...(expected[name] ?? [])].sort() });
    }

    // A message keeps its metadata; receivers never see it.
    const stored = await call<{ metadata?: Record<string, string> }>('GET', `/v1/messages/${m2}`, { key: tenant.key });
    expect(stored.body.metadata).toEqual({ region: 'eu-west-1' });
    expect(endpoints.vip?.receiver.requests[0]?.body).not.toContain('eu-west-1');
  });

  test('invalid filters and metadata are refused with what to fix; null removes a filter', async () => {
    const receiver = await receivers.start();
    const bad = await call<{ error: { code: string; message: string; details: { path: string; message: string }[] } }>(
      'POST',
      '/v1/endpoints',
      {
        key: tenant.key,
        body: { url: receiver.url, filter: { 'data.amount': { $gt: { n: 1 } }, 'data.plan': { $regex: 'p.*' } } },
      },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    expect(bad.body.error.details).toEqual([
      { path: 'filter.data.amount.$gt', message: '$gt compares with a number or a string' },
      { path: 'filter.data.plan.$regex', message: expect.stringContaining('unknown operator $regex') },
    ]);

    const tooBig = await call('POST', '/v1/endpoints', {
      key: tenant.key,
      body: { url: receiver.url, filter: { 'data.id': { $in: Array.from({ length: 100 }, (_, i) => `${'x'.repeat(50)}${i}`) } } },
    });
    expect(tooBig.status).toBe(400);

    const endpoint = await createEndpoint(tenant, { url: receiver.url, filter: { type: 'order.created' } });
    const patched = await call('PATCH', `/v1/endpoints/${endpoint.id}`, { key: tenant.key, body: { filter: { $nor: [] } } });
    expect(patched.status).toBe(400);
    expect(JSON.stringify(patched.body)).toContain('unknown operator $nor');
    const cleared = await call('PATCH', `/v1/endpoints/${endpoint.id}`, { key: tenant.key, body: { filter: null } });
    expect(cleared.status).toBe(200);
    expect(cleared.body).not.toHaveProperty('filter');

    const badMetadata = await call('POST', '/v1/messages', {
      key: tenant.key,
      body: { type: 'order.created', payload: {}, metadata: { 'a.b': 'x' } },
    });
    expect(badMetadata.status).toBe(400);
    expect(JSON.stringify(badMetadata.body)).toContain('metadata keys are 1 to 64 letters');
  });

  test('the test routes explain a verdict, for an endpoint and for a filter not yet stored', async () => {
    const receiver = await receivers.start();
    const endpoint = await createEndpoint(tenant, {
      url: receiver.url,
      eventTypes: ['order.created'],
      filter: { 'data.amount': { $gte: 100 }, 'metadata.region': { $exist: true } },
    });
    const verdict = await call('POST', `/v1/endpoints/${endpoint.id}/filter/test`, {
      key: tenant.key,
      body: { type: 'order.created', payload: { amount: 120 } },
    });
    expect(verdict.status).toBe(200);
    expect(verdict.body).toEqual({
      matches: false,
      subscribed: true,
      explanation: {
        operator: '$and',
        matched: false,
        conditions: [
          { path: 'data.amount', operator: '$gte', operand: 100, found: [120], matched: true },
          { path: 'metadata.region', operator: '$exist', operand: true, found: [], matched: false },
        ],
      },
    });

    const tried = await call('POST', '/v1/filters/test', {
      key: tenant.key,
      body: { filter: { 'data.tags': { $in: ['vip'] } }, type: 'order.created', payload: { tags: ['vip'] } },
    });
    expect(tried.status).toBe(200);
    expect(tried.body).toMatchObject({ matches: true });

    const refused = await call('POST', '/v1/filters/test', {
      key: tenant.key,
      body: { filter: { 'data.tags': { $in: 'vip' } }, type: 'order.created', payload: {} },
    });
    expect(refused.status).toBe(400);

    const unknown = await call('POST', '/v1/endpoints/ep_missing/filter/test', { key: tenant.key, body: { type: 'x', payload: {} } });
    expect(unknown.status).toBe(404);
  });
});
