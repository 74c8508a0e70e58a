/**
 * Integration (real local stack): poll endpoints. Nothing is sent; deliveries wait in the
 * endpoint's inbox to be pulled, each with the signed request Sluice would have POSTed, until
 * they are acknowledged or their schedule runs out.
 */
import { Webhook } from 'standardwebhooks';
import { type CreatedEndpoint, call, createTenant, eventually, postMessage, putEventType, type TestTenant } from '../support/stack.ts';

interface InboxPage {
  data: { deliveryId: string; messageId: string; type: string; status: string }[];
}

interface InboxItem {
  deliveryId: string;
  status: string;
  data: Record<string, unknown>;
  request?: { headers: Record<string, string>; body: string };
}

async function pollEndpoint(tenant: TestTenant, body: Record<string, unknown> = {}): Promise<CreatedEndpoint> {
  const created = await call<CreatedEndpoint>('POST', '/v1/endpoints', { key: tenant.key, body: { mode: 'poll', ...body } });
  expect(created.status).toBe(201);
  return created.body;
}

const inbox = (tenant: TestTenant, endpointId: string, status = 'unacknowledged') =>
  call<InboxPage>('GET', `/v1/inbox?endpointId=${endpointId}&status=${status}`, { key: tenant.key });

describe('poll endpoints', () => {
  test('a delivery waits in the inbox with a signed request, and is done once acknowledged', async () => {
    const tenant = await createTenant('poll');
    await putEventType(tenant, 'order.created');
    const endpoint = await pollEndpoint(tenant, { eventTypes: ['order.created'] });
    expect(endpoint).toMatchObject({ mode: 'poll', retryPolicy: { preset: 'daily' } });
    expect(endpoint).not.toHaveProperty('url');

    const message = await postMessage(tenant, 'order.created', { orderId: 'ord_1' });
    const [entry] = await eventually(async () => {
      const page = await inbox(tenant, endpoint.id);
      return page.body.data.length === 1 ? page.body.data : undefined;
    }, 'the delivery in the inbox');
    expect(entry).toMatchObject({ messageId: message.id, type: 'order.created', status: 'unacknowledged' });

    const fetched = await call<InboxItem>('GET', `/v1/inbox/${entry?.deliveryId}`, { key: tenant.key });
    expect(fetched.status).toBe(200);
    expect(fetched.body.data).toEqual({ orderId: 'ord_1' });
    const request = fetched.body.request;
    if (!request) throw new Error('a poll endpoint’s item carries its signed request');
    // Exactly what a receiver of a full endpoint would be sent, and it verifies with the endpoint's secret.
    expect(JSON.parse(request.body)).toEqual({
      id: message.id,
      type: 'order.created',
      createdAt: message.createdAt,
      data: { orderId: 'ord_1' },
    });
    expect(new Webhook(endpoint.secret).verify(request.body, request.headers)).toEqual(JSON.parse(request.body));
    expect(request.headers['x-sluice-delivery-id']).toBe(entry?.deliveryId);

    const acked = await call('POST', `/v1/inbox/${entry?.deliveryId}/ack`, { key: tenant.key });
    expect(acked.body).toEqual({ deliveryId: entry?.deliveryId, status: 'acknowledged', alreadyAcknowledged: false });
    expect((await inbox(tenant, endpoint.id)).body.data).toEqual([]);
    expect((await inbox(tenant, endpoint.id, 'acknowledged')).body.data.map((e) => e.deliveryId)).toEqual([entry?.deliveryId]);
    const history = await call<{ status: string; attempts: unknown[]; events: { type: string }[] }>(
      'GET',
      `/v1/deliveries/${entry?.deliveryId}`,
      { key: tenant.key },
    );
    // Nothing was ever sent: no attempt, a fetch and an ack.
    expect(history.body).toMatchObject({ status: 'acknowledged', attempts: [] });
    expect(history.body.events.map((e) => e.type)).toEqual(['fetched', 'acknowledged']);
  });

  test('unacknowledged, a delivery expires when its schedule runs out', async () => {
    const tenant = await createTenant('poll expiry');
    await putEventType(tenant, 'order.created');
    const endpoint = await pollEndpoint(tenant, { retryPolicy: { delaysSeconds: [1] } });
    await postMessage(tenant, 'order.created', { orderId: 'ord_2' });
    const expired = await eventually(
      async () => {
        const page = await inbox(tenant, endpoint.id, 'expired');
        return page.body.data.length === 1 ? page.body.data[0] : undefined;
      },
      'the delivery to expire',
      15_000,
    );
    expect(expired).toMatchObject({ status: 'expired' });
    expect((await inbox(tenant, endpoint.id)).body.data).toEqual([]);
  });

  test('a poll endpoint has no url, every other needs one, and none changes into or out of poll', async () => {
    const tenant = await createTenant('poll rules');
    const withUrl = await call<{ error: { message: string } }>('POST', '/v1/endpoints', {
      key: tenant.key,
      body: { mode: 'poll', url: 'https://example.com/hook' },
    });
    expect(withUrl.status).toBe(400);
    expect(withUrl.body.error.message).toBe('a poll endpoint has no url: its receiver pulls deliveries from GET /v1/inbox');
    const noUrl = await call<{ error: { message: string } }>('POST', '/v1/endpoints', { key: tenant.key, body: {} });
    expect(noUrl.status).toBe(400);
    expect(noUrl.body.error.message).toBe('url is required (only a poll endpoint has none)');
    const endpoint = await pollEndpoint(tenant);
    const change = await call('PATCH', `/v1/endpoints/${endpoint.id}`, {
      key: tenant.key,
      body: { mode: 'full', url: 'https://example.com/hook' },
    });
    expect(change.status).toBe(400);
  });
});
