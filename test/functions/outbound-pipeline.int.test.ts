/**
 * Integration (real local stack): a posted event is fanned out to the endpoints subscribed to
 * its type, signed, POSTed to real receivers on 127.0.0.1 and recorded in the history.
 */
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { receiverPool } from '../support/receiver.ts';
import {
  call,
  createEndpoint,
  createTenant,
  eventually,
  postMessage,
  putEventType,
  stackLogText,
  type TestTenant,
} from '../support/stack.ts';

const lockPayload = { lockId: 'lck_1', doorName: 'Front door', method: 'app', batteryPercent: 81, occurredAt: '2026-11-25T08:00:00Z' };

interface DeliveryDetail {
  status: string;
  nextAttemptAt?: string;
  attempts: { statusCode: number; durationMs: number; responseBody: string; outcome: string }[];
}

describe('outbound pipeline', () => {
  let tenant: TestTenant;
  const receivers = receiverPool();

  beforeAll(async () => {
    tenant = await createTenant();
    await putEventType(tenant, 'lock.unlocked', {
      type: 'object',
      required: ['lockId', 'method'],
      properties: { lockId: { type: 'string' }, method: { enum: ['app', 'keypad', 'nfc'] } },
    });
    await putEventType(tenant, 'lock.locked');
  });

  afterAll(() => receivers.closeAll());
  const receiver = receivers.start;

  test('lock.unlocked reaches both subscribed receivers, signed and with Basic auth, and not the lock.locked one', async () => {
    const [first, second, other] = [await receiver(), await receiver(), await receiver()];
    const firstEndpoint = await createEndpoint(tenant, {
      url: first.url,
      eventTypes: ['lock.unlocked'],
      auth: { type: 'basic', username: 'hooks', password: 's3cret' },
      headers: { 'x-tenant-ref': 'acme-42' },
    });
    const secondEndpoint = await createEndpoint(tenant, { url: second.url, eventTypes: ['lock.unlocked', 'lock.locked'] });
    const otherEndpoint = await createEndpoint(tenant, { url: other.url, eventTypes: ['lock.locked'] });

    const message = await postMessage(tenant, 'lock.unlocked', lockPayload);
    const [[atFirst], [atSecond]] = await Promise.all([first.waitFor(1), second.waitFor(1)]);
    if (!atFirst || !atSecond) throw new Error('no request received');

    for (const [request, endpoint] of [
      [atFirst, firstEndpoint],
      [atSecond, secondEndpoint],
    ] as const) {
      expect(request.method).toBe('POST');
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['user-agent']).toBe('Sluice/1.0');
      expect(request.headers['webhook-id']).toBe(message.id);
      expect(request.headers['x-sluice-event-type']).toBe('lock.unlocked');
      expect(request.headers['x-sluice-attempt']).toBe('1');
      expect(request.headers['x-sluice-delivery-id']).toMatch(/^dlv_/);
      expect(JSON.parse(request.body)).toEqual({ id: message.id, type: 'lock.unlocked', createdAt: message.createdAt, data: lockPayload });
      // Verifies with the public Standard Webhooks library (which throws otherwise)...
      expect(new Webhook(endpoint.secret).verify(request.body, request.headers)).toEqual(JSON.parse(request.body));
      // ...and by hand, as a svix-style receiver computes it.
      const key = Buffer.from(endpoint.secret.replace(/^whsec_/, ''), 'base64');
      const expected = createHmac('sha256', key)
        .update(`${request.headers['webhook-id']}.${request.headers['webhook-timestamp']}.${request.body}`)
        .digest('base64');
      expect(request.headers['webhook-signature']).toBe(`v1,${expected}`);
    }
    expect(atFirst.headers.authorization).toBe(`Basic ${Buffer.from('hooks:s3cret').toString('base64')}`);
    expect(atFirst.headers['x-tenant-ref']).toBe('acme-42');
    expect(atSecond.headers.authorization).toBeUndefined();
    // A tampered body does not verify.
    expect(() => new Webhook(firstEndpoint.secret).verify(atFirst.body.replace('Front', 'Back'), atFirst.headers)).toThrow();

    // History: both deliveries succeeded with status code and duration; none for the third endpoint.
    const deliveries = await eventually(async () => {
      const response = await call<{ data: { id: string; endpointId: string; status: string }[] }>(
        'GET',
        `/v1/messages/${message.id}/deliveries`,
        {
          key: tenant.key,
        },
      );
      return response.body.data.length === 2 && response.body.data.every((d) => d.status === 'succeeded') ? response.body.data : undefined;
    }, 'both deliveries succeeded');
    expect(deliveries.map((d) => d.endpointId).sort()).toEqual([firstEndpoint.id, secondEndpoint.id].sort());
    const detail = await call<DeliveryDetail>('GET', `/v1/deliveries/${atFirst.headers['x-sluice-delivery-id']}`, { key: tenant.key });
    expect(detail.status).toBe(200);
    expect(detail.body.status).toBe('succeeded');
    expect(detail.body.attempts).toHaveLength(1);
    expect(detail.body.attempts[0]).toMatchObject({ statusCode: 200, outcome: 'succeeded', responseBody: 'ok' });
    expect(detail.body.attempts[0]?.durationMs).toBeGreaterThanOrEqual(0);

    const otherHistory = await call<{ data: unknown[] }>('GET', `/v1/endpoints/${otherEndpoint.id}/deliveries`, { key: tenant.key });
    expect(otherHistory.body.data).toEqual([]);
    expect(other.requests).toHaveLength(0);

    const succeeded = await call<{ data: unknown[] }>('GET', `/v1/endpoints/${firstEndpoint.id}/deliveries?status=succeeded`, {
      key: tenant.key,
    });
    expect(succeeded.body.data).toHaveLength(1);
    const failedOnly = await call<{ data: unknown[] }>('GET', `/v1/endpoints/${firstEndpoint.id}/deliveries?status=failed`, {
      key: tenant.key,
    });
    expect(failedOnly.body.data).toEqual([]);
  });

  test('a failing receiver gets its attempt recorded with status code, the first 4 KiB of its answer and a scheduled retry', async () => {
    const failing = await receiver((_request, _index, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('x'.repeat(6000));
    });
    const endpoint = await createEndpoint(tenant, {
      url: failing.url,
      eventTypes: ['lock.locked'],
      retryPolicy: { delaysSeconds: [3600] },
    });
    await postMessage(tenant, 'lock.locked', { lockId: 'lck_2' });
    const [request] = await failing.waitFor(1);
    const deliveryId = request?.headers['x-sluice-delivery-id'];
    const detail = await eventually(async () => {
      const response = await call<DeliveryDetail>('GET', `/v1/deliveries/${deliveryId}`, { key: tenant.key });
      return response.body.attempts?.length === 1 ? response.body : undefined;
    }, 'the failed attempt in the history');
    expect(detail.status).toBe('failed');
    expect(detail.attempts[0]).toMatchObject({ statusCode: 503, outcome: 'failed' });
    expect(detail.attempts[0]?.responseBody).toHaveLength(4096);
    // One hour, ±10 % jitter.
    const retryIn = Date.parse(detail.nextAttemptAt ?? '') - Date.now();
    expect(retryIn).toBeGreaterThan(3600 * 0.9 * 1000 - 60_000);
    expect(retryIn).toBeLessThan(3600 * 1.1 * 1000);
    const failedHistory = await call<{ data: { id: string }[] }>('GET', `/v1/endpoints/${endpoint.id}/deliveries?status=failed`, {
      key: tenant.key,
    });
    expect(failedHistory.body.data.map((d) => d.id)).toEqual([deliveryId]);
  });

  test('every attempt writes one delivery-log line and EMF metrics, with no secret or key in the log', async () => {
    const target = await receiver();
    const endpoint = await createEndpoint(tenant, {
      url: target.url,
      eventTypes: ['lock.unlocked'],
      auth: { type: 'basic', username: 'u', password: 'pw-never-logged' },
    });
    const message = await postMessage(tenant, 'lock.unlocked', lockPayload);
    const [request] = await target.waitFor(1);
    const deliveryId = request?.headers['x-sluice-delivery-id'];
    const line = await eventually(async () => {
      return stackLogText()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((entry) => entry.message === 'delivery attempt' && entry.deliveryId === deliveryId);
    }, 'the delivery log line');
    expect(line).toMatchObject({
      messageId: message.id,
      endpointId: endpoint.id,
      deliveryId,
      attempt: 1,
      statusCode: 200,
      outcome: 'succeeded',
    });
    expect(typeof line.durationMs).toBe('number');
    const log = stackLogText();
    expect(log).toContain('"DeliveryAttempts"');
    expect(log).toMatch(/"Namespace":"Sluice"/);
    for (const secret of [endpoint.secret, endpoint.secret.replace('whsec_', ''), 'pw-never-logged', tenant.key]) {
      expect(log).not.toContain(secret);
    }
  });
});
