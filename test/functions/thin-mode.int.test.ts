/**
 * Integration (real local stack, real receivers): thin deliveries. The receiver gets empty
 * signed notifications, pulls the event from the inbox and acknowledges it; until it does, the
 * notification repeats on the endpoint's schedule, and ends dead when the window closes.
 */
import { Webhook } from 'standardwebhooks';
import { receiverPool } from '../support/receiver.ts';
import { call, createEndpoint, createKey, createTenant, eventually, postMessage, putEventType, type TestTenant } from '../support/stack.ts';

interface DeliveryDetail {
  status: string;
  attempts: { attempt: number; outcome: string; statusCode?: number }[];
  events: { type: string; at: string; keyId: string }[];
}

describe('thin mode and the receiver inbox', () => {
  let tenant: TestTenant;
  let receiverKey: string;
  const receivers = receiverPool();

  beforeAll(async () => {
    tenant = await createTenant();
    await putEventType(tenant, 'lock.unlocked');
    receiverKey = await createKey(tenant, ['receiver']);
  });
  afterAll(() => receivers.closeAll());
  const receiver = () => receivers.start();

  test('empty signed notifications repeat until the receiver fetches and acknowledges; then nothing more', async () => {
    const target = await receiver();
    const endpoint = await createEndpoint(tenant, {
      url: target.url,
      mode: 'thin',
      userAgent: 'Lockly-Notifier/2.0',
      retryPolicy: { delaysSeconds: [1, 1, 1, 1, 1, 1, 1, 1] },
    });
    const message = await postMessage(tenant, 'lock.unlocked', { lockId: 'lck_9', method: 'nfc' });
    const notifications = await target.waitFor(2);
    for (const notification of notifications) {
      expect(notification.body).toBe('');
      expect(notification.headers['x-message-id']).toMatch(/^dlv_/);
      expect(notification.headers['content-type']).toBeUndefined();
      expect(notification.headers['user-agent']).toBe('Lockly-Notifier/2.0');
      expect(notification.headers['webhook-id']).toBe(message.id);
      // Signed over the empty body (the library throws otherwise).
      expect(() => new Webhook(endpoint.secret).verify('', notification.headers, { jsonParse: false })).not.toThrow();
    }
    const deliveryId = notifications[0]?.headers['x-message-id'] ?? '';
    expect(notifications[1]?.headers['x-message-id']).toBe(deliveryId);

    const fetched = await call<{ deliveryId: string; messageId: string; type: string; data: unknown; createdAt: string }>(
      'GET',
      `/v1/inbox/${deliveryId}`,
      { key: receiverKey },
    );
    expect(fetched.status).toBe(200);
    expect(fetched.body).toMatchObject({
      deliveryId,
      messageId: message.id,
      type: 'lock.unlocked',
      createdAt: message.createdAt,
      status: 'unacknowledged',
    });
    expect(fetched.body.data).toEqual({ lockId: 'lck_9', method: 'nfc' });

    const ack = await call<{ status: string; alreadyAcknowledged: boolean }>('POST', `/v1/inbox/${deliveryId}/ack`, { key: receiverKey });
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ status: 'acknowledged', alreadyAcknowledged: false });
    const again = await call<{ alreadyAcknowledged: boolean }>('POST', `/v1/inbox/${deliveryId}/ack`, { key: receiverKey });
    expect(again.status).toBe(200);
    expect(again.body.alreadyAcknowledged).toBe(true);

    const countAtAck = target.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    // At most one notification already in flight at the moment of the ack; then silence.
    expect(target.requests.length - countAtAck).toBeLessThanOrEqual(1);
    const settledCount = target.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(target.requests.length).toBe(settledCount);

    const history = await call<DeliveryDetail>('GET', `/v1/deliveries/${deliveryId}`, { key: tenant.key });
    expect(history.body.status).toBe('acknowledged');
    expect(history.body.attempts.length).toBeGreaterThanOrEqual(2);
    expect(history.body.attempts.every((a) => a.outcome === 'succeeded' && a.statusCode === 200)).toBe(true);
    expect(history.body.events.map((e) => e.type)).toEqual(['fetched', 'acknowledged']);
    const keys = await call<{ data: { id: string; key: string }[] }>('GET', '/v1/api-keys', { key: tenant.key });
    const receiverKeyId = keys.body.data.find((k) => receiverKey.endsWith(k.key.slice(-4)))?.id;
    expect(history.body.events.every((e) => e.keyId === receiverKeyId)).toBe(true);
    expect(endpoint.id).toMatch(/^ep_/);
  });

  test('an unacknowledged notification repeats on its schedule and ends dead when the window closes', async () => {
    const target = await receiver();
    const endpoint = await createEndpoint(tenant, { url: target.url, mode: 'thin', retryPolicy: { delaysSeconds: [1, 1] } });
    await postMessage(tenant, 'lock.unlocked', { lockId: 'lck_10', method: 'app' });
    const [first] = await target.waitFor(1);
    const deliveryId = first?.headers['x-message-id'] ?? '';
    const waiting = await call<{ data: Record<string, unknown>[] }>('GET', `/v1/inbox?endpointId=${endpoint.id}&status=unacknowledged`, {
      key: receiverKey,
    });
    // The list speaks the fetched item's vocabulary, without the data.
    expect(waiting.body.data).toContainEqual({
      deliveryId,
      messageId: expect.stringMatching(/^msg_/),
      type: 'lock.unlocked',
      createdAt: expect.any(String),
      status: 'unacknowledged',
    });
    const dead = await eventually(async () => {
      const d = await call<DeliveryDetail>('GET', `/v1/deliveries/${deliveryId}`, { key: tenant.key });
      return d.body.status === 'dead' ? d.body : undefined;
    }, 'the thin delivery dead after its window');
    expect(dead.attempts).toHaveLength(3);
    expect(target.requests).toHaveLength(3);
    const deadLetters = await call<{ data: { id: string }[] }>('GET', '/v1/dead-letters', { key: tenant.key });
    expect(deadLetters.body.data.map((d) => d.id)).toContain(deliveryId);
    const stillWaiting = await call<{ data: { deliveryId: string }[] }>('GET', `/v1/inbox?endpointId=${endpoint.id}`, { key: receiverKey });
    expect(stillWaiting.body.data.map((d) => d.deliveryId)).not.toContain(deliveryId);
    // Notifications ran out: the inbox calls it expired, in the list and in the item, and it can still be fetched.
    const expired = await call<{ data: { deliveryId: string; status: string }[] }>(
      'GET',
      `/v1/inbox?endpointId=${endpoint.id}&status=expired`,
      { key: receiverKey },
    );
    expect(expired.body.data).toContainEqual(expect.objectContaining({ deliveryId, status: 'expired' }));
    expect((await call<{ status: string }>('GET', `/v1/inbox/${deliveryId}`, { key: receiverKey })).body.status).toBe('expired');
    // A late ack still counts: the receiver did get the event.
    expect((await call('POST', `/v1/inbox/${deliveryId}/ack`, { key: receiverKey })).status).toBe(200);
    const acknowledged = await call<{ data: { deliveryId: string; status: string }[] }>(
      'GET',
      `/v1/inbox?endpointId=${endpoint.id}&status=acknowledged`,
      { key: receiverKey },
    );
    expect(acknowledged.body.data).toContainEqual(expect.objectContaining({ deliveryId, status: 'acknowledged' }));
    expect((await call<{ status: string }>('GET', `/v1/inbox/${deliveryId}`, { key: receiverKey })).body.status).toBe('acknowledged');
  });

  test('the inbox pages through what is waiting, newest first', async () => {
    const target = await receiver();
    const endpoint = await createEndpoint(tenant, { url: target.url, mode: 'thin', retryPolicy: { delaysSeconds: [3600] } });
    const posted: string[] = [];
    for (let i = 0; i < 5; i++) posted.push((await postMessage(tenant, 'lock.unlocked', { lockId: `l${i}`, method: 'app' })).id);
    await target.waitFor(5);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await call<{ data: { messageId: string }[]; nextCursor?: string }>(
        'GET',
        `/v1/inbox?endpointId=${endpoint.id}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        { key: receiverKey },
      );
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.map((d) => d.messageId));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...posted].reverse());
  });

  test('a deactivated thin endpoint gets nothing and loses nothing; reactivated, it is notified', async () => {
    const target = await receiver();
    const endpoint = await createEndpoint(tenant, {
      url: target.url,
      mode: 'thin',
      disabled: true,
      retryPolicy: { delaysSeconds: [3600] },
    });
    await postMessage(tenant, 'lock.unlocked', { lockId: 'lck_11', method: 'app' });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(target.requests).toHaveLength(0);
    await call('PATCH', `/v1/endpoints/${endpoint.id}`, { key: tenant.key, body: { disabled: false } });
    const [notification] = await target.waitFor(1);
    expect(notification?.body).toBe('');
  });

  test('bad input: unknown id, another tenant, a full-mode delivery → 404; an ingest key → 403; ack twice records one ack', async () => {
    expect((await call('GET', '/v1/inbox/dlv_01ZZZZZZZZZZZZZZZZZZZZZZZZ', { key: receiverKey })).status).toBe(404);
    expect((await call('POST', '/v1/inbox/dlv_01ZZZZZZZZZZZZZZZZZZZZZZZZ/ack', { key: receiverKey })).status).toBe(404);

    const target = await receiver();
    const thin = await createEndpoint(tenant, { url: target.url, mode: 'thin', retryPolicy: { delaysSeconds: [3600] } });
    await postMessage(tenant, 'lock.unlocked', { lockId: 'lck_12', method: 'app' });
    const [notification] = await target.waitFor(1);
    const deliveryId = notification?.headers['x-message-id'] ?? '';

    const other = await createTenant();
    const otherReceiver = await createKey(other, ['receiver']);
    const foreign = await call<{ error: { code: string } }>('GET', `/v1/inbox/${deliveryId}`, { key: otherReceiver });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('not_found');
    expect((await call('POST', `/v1/inbox/${deliveryId}/ack`, { key: otherReceiver })).status).toBe(404);
    expect((await call('GET', `/v1/inbox?endpointId=${thin.id}`, { key: otherReceiver })).status).toBe(404);

    const ingestKey = await createKey(tenant, ['ingest']);
    const forbidden = await call<{ error: { code: string } }>('GET', `/v1/inbox/${deliveryId}`, { key: ingestKey });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('forbidden_scope');
    expect((await call('POST', `/v1/inbox/${deliveryId}/ack`, { key: ingestKey })).status).toBe(403);

    expect((await call('POST', `/v1/inbox/${deliveryId}/ack`, { key: receiverKey })).status).toBe(200);
    expect((await call('POST', `/v1/inbox/${deliveryId}/ack`, { key: receiverKey })).status).toBe(200);
    const history = await call<DeliveryDetail>('GET', `/v1/deliveries/${deliveryId}`, { key: tenant.key });
    expect(history.body.events.filter((e) => e.type === 'acknowledged')).toHaveLength(1);

    // A full-mode delivery is not in the inbox, and a full endpoint has no inbox to list.
    const fullTarget = await receiver();
    const full = await createEndpoint(tenant, { url: fullTarget.url, eventTypes: ['lock.unlocked'] });
    await postMessage(tenant, 'lock.unlocked', { lockId: 'lck_13', method: 'app' });
    const [delivered] = await fullTarget.waitFor(1);
    expect((await call('GET', `/v1/inbox/${delivered?.headers['x-sluice-delivery-id']}`, { key: receiverKey })).status).toBe(404);
    expect((await call('GET', `/v1/inbox?endpointId=${full.id}`, { key: receiverKey })).status).toBe(400);
    expect((await call('GET', '/v1/inbox', { key: receiverKey })).status).toBe(400);
  });
});
