/**
 * Integration (real local stack): a message posted with `deliverAt` is stored at once, reads as
 * `scheduled`, and reaches its endpoint at its time, not before and at most 2 s after; a cancelled
 * one never arrives; bad times and bad cancels get a 4xx that says what to fix.
 */
import { Webhook } from 'standardwebhooks';
import { receiverPool } from '../support/receiver.ts';
import { call, createEndpoint, createTenant, eventually, putEventType, type TestTenant } from '../support/stack.ts';

interface MessageBody {
  readonly id: string;
  readonly status: string;
  readonly deliverAt?: string;
  readonly cancelledAt?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('scheduled messages', () => {
  let tenant: TestTenant;
  const receivers = receiverPool();

  beforeAll(async () => {
    tenant = await createTenant();
    await putEventType(tenant, 'invoice.due');
  });

  afterAll(() => receivers.closeAll());

  async function schedule(deliverAt: Date, payload: Record<string, unknown>) {
    return call<MessageBody>('POST', '/v1/messages', {
      key: tenant.key,
      body: { type: 'invoice.due', payload, deliverAt: deliverAt.toISOString() },
    });
  }

  test('arrives within 2 s of its deliverAt and not before, signed; reads as scheduled until then', async () => {
    const receiver = await receivers.start();
    const endpoint = await createEndpoint(tenant, { url: receiver.url, eventTypes: ['invoice.due'] });
    const deliverAt = new Date(Date.now() + 4000);
    const posted = await schedule(deliverAt, { invoice: 'INV-1' });
    expect(posted.status).toBe(202);
    expect(posted.body).toMatchObject({ status: 'scheduled', deliverAt: deliverAt.toISOString() });

    const read = await call<MessageBody>('GET', `/v1/messages/${posted.body.id}`, { key: tenant.key });
    expect(read.body).toMatchObject({ id: posted.body.id, status: 'scheduled', deliverAt: deliverAt.toISOString() });
    const deliveries = await call<{ data: { status: string; nextAttemptAt?: string }[] }>(
      'GET',
      `/v1/messages/${posted.body.id}/deliveries`,
      { key: tenant.key },
    );
    expect(deliveries.body.data).toEqual([expect.objectContaining({ status: 'pending', nextAttemptAt: deliverAt.toISOString() })]);

    const request = await eventually(async () => receiver.requests[0], 'the scheduled message to arrive', 15_000, 20);
    const lateMs = request.receivedAt - deliverAt.getTime();
    expect(lateMs).toBeGreaterThanOrEqual(0);
    expect(lateMs).toBeLessThanOrEqual(2000);
    expect(JSON.parse(request.body)).toMatchObject({ id: posted.body.id, type: 'invoice.due', data: { invoice: 'INV-1' } });
    expect(() => new Webhook(endpoint.secret).verify(request.body, request.headers)).not.toThrow();
    await sleep(1000);
    expect(receiver.requests).toHaveLength(1);
    const after = await call<MessageBody>('GET', `/v1/messages/${posted.body.id}`, { key: tenant.key });
    expect(after.body.status).toBe('dispatched');
    // Its time has come: too late to cancel.
    const late = await call<{ error: { code: string; message: string } }>('DELETE', `/v1/messages/${posted.body.id}`, { key: tenant.key });
    expect(late.status).toBe(409);
    expect(late.body.error.message).toMatch(/can no longer be cancelled/);
  });

  test('a cancelled message never arrives and has no deliveries; cancelling again answers the same', async () => {
    const receiver = await receivers.start();
    await createEndpoint(tenant, { url: receiver.url, eventTypes: ['invoice.due'] });
    const deliverAt = new Date(Date.now() + 3000);
    const posted = await schedule(deliverAt, { invoice: 'INV-2' });
    const cancelled = await call<MessageBody>('DELETE', `/v1/messages/${posted.body.id}`, { key: tenant.key });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ id: posted.body.id, status: 'cancelled', deliverAt: deliverAt.toISOString() });
    expect(cancelled.body.cancelledAt).toEqual(expect.any(String));
    const again = await call<MessageBody>('DELETE', `/v1/messages/${posted.body.id}`, { key: tenant.key });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(cancelled.body);

    await sleep(deliverAt.getTime() - Date.now() + 3000);
    expect(receiver.requests).toEqual([]);
    const read = await call<MessageBody>('GET', `/v1/messages/${posted.body.id}`, { key: tenant.key });
    expect(read.body.status).toBe('cancelled');
    const deliveries = await call<{ data: unknown[] }>('GET', `/v1/messages/${posted.body.id}/deliveries`, { key: tenant.key });
    expect(deliveries.body.data).toEqual([]);
  });

  test('a deliverAt out of the window is a 400 that says why; an unscheduled message cannot be cancelled', async () => {
    const far = await schedule(new Date(Date.now() + 8 * 86_400_000), { invoice: 'INV-3' });
    expect(far.status).toBe(400);
    expect(JSON.stringify(far.body)).toMatch(/at most 7 days ahead/);
    const past = await schedule(new Date(Date.now() - 3_600_000), { invoice: 'INV-4' });
    expect(past.status).toBe(400);
    expect(JSON.stringify(past.body)).toMatch(/in the past/);
    const notATime = await call('POST', '/v1/messages', {
      key: tenant.key,
      body: { type: 'invoice.due', payload: {}, deliverAt: 'tomorrow' },
    });
    expect(notATime.status).toBe(400);

    const now = await call<MessageBody>('POST', '/v1/messages', { key: tenant.key, body: { type: 'invoice.due', payload: {} } });
    expect(now.body.status).toBe('dispatched');
    const refused = await call<{ error: { code: string; message: string } }>('DELETE', `/v1/messages/${now.body.id}`, { key: tenant.key });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'conflict', message: expect.stringMatching(/was not scheduled/) });
    const missing = await call('DELETE', '/v1/messages/msg_01JN0000000000000000000000', { key: tenant.key });
    expect(missing.status).toBe(404);
  });
});
