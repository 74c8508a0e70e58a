/**
 * Integration (real local stack, real receivers): the recovery API, secret rotation, endpoint
 * tests, rate limits, isolation of a slow endpoint, and disabling an endpoint that keeps failing.
 */
import { Webhook } from 'standardwebhooks';
import { expectLedgerSettled } from '../support/ledger.ts';
import { receiverPool, respondWith } from '../support/receiver.ts';
import { call, createEndpoint, createTenant, eventually, postMessage, putEventType, type TestTenant } from '../support/stack.ts';

interface DeliveryDetail {
  id: string;
  status: string;
  attempts: { attempt: number; trigger: string; startedAt: string; statusCode?: number; outcome: string }[];
}

async function detail(tenant: TestTenant, id: string): Promise<DeliveryDetail> {
  return (await call<DeliveryDetail>('GET', `/v1/deliveries/${id}`, { key: tenant.key })).body;
}

async function setup(): Promise<TestTenant> {
  const tenant = await createTenant();
  await putEventType(tenant, 'invoice.paid');
  return tenant;
}

describe('recovery and endpoint operations', () => {
  const receivers = receiverPool();
  const receiver = receivers.start;
  afterAll(() => receivers.closeAll());

  test('POST /v1/deliveries/{id}/retry makes one more attempt now, recorded as manual', async () => {
    const tenant = await setup();
    const target = await receiver();
    const endpoint = await createEndpoint(tenant, { url: target.url });
    await postMessage(tenant, 'invoice.paid', { n: 1 });
    const [first] = await target.waitFor(1);
    const deliveryId = first?.headers['x-sluice-delivery-id'] ?? '';
    await eventually(async () => ((await detail(tenant, deliveryId)).status === 'succeeded' ? true : undefined), 'first attempt recorded');
    const retried = await call<{ deliveryId: string; queued: boolean }>('POST', `/v1/deliveries/${deliveryId}/retry`, { key: tenant.key });
    expect(retried.status).toBe(202);
    expect(retried.body).toEqual({ deliveryId, queued: true });
    const [, second] = await target.waitFor(2);
    expect(second?.headers['x-sluice-attempt']).toBe('2');
    const history = await eventually(async () => {
      const d = await detail(tenant, deliveryId);
      return d.attempts.length === 2 ? d : undefined;
    }, 'the manual attempt in the history');
    expect(history.attempts.map((a) => a.trigger)).toEqual(['scheduled', 'manual']);
    expect(history.status).toBe('succeeded');
    // Another tenant's delivery, an unknown one, and a disabled endpoint are refused.
    const other = await setup();
    expect((await call('POST', `/v1/deliveries/${deliveryId}/retry`, { key: other.key })).status).toBe(404);
    await call('PATCH', `/v1/endpoints/${endpoint.id}`, { key: tenant.key, body: { disabled: true } });
    const refused = await call<{ error: { code: string } }>('POST', `/v1/deliveries/${deliveryId}/retry`, { key: tenant.key });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('conflict');
  });

  test('dead letters: listed, then redriven with a fresh schedule once the receiver is fixed', async () => {
    const tenant = await setup();
    const target = await receiver(respondWith(500));
    const endpoint = await createEndpoint(tenant, { url: target.url, retryPolicy: { delaysSeconds: [1] } });
    const messages = [await postMessage(tenant, 'invoice.paid', { n: 1 }), await postMessage(tenant, 'invoice.paid', { n: 2 })];
    await expectLedgerSettled(tenant, 2, new Map([[endpoint.id, target]]));
    const dead = await call<{ data: { id: string; messageId: string; status: string }[] }>('GET', '/v1/dead-letters', { key: tenant.key });
    expect(dead.body.data.map((d) => d.messageId).sort()).toEqual(messages.map((m) => m.id).sort());
    expect(dead.body.data.every((d) => d.status === 'dead')).toBe(true);

    target.responder = respondWith(200);
    const [one, two] = dead.body.data;
    const partial = await call<{ redriven: string[]; skipped: { id: string; reason: string }[] }>('POST', '/v1/dead-letters/redrive', {
      key: tenant.key,
      body: { ids: [one?.id, 'dlv_01ZZZZZZZZZZZZZZZZZZZZZZZZ'] },
    });
    expect(partial.status).toBe(202);
    expect(partial.body).toEqual({ redriven: [one?.id], skipped: [{ id: 'dlv_01ZZZZZZZZZZZZZZZZZZZZZZZZ', reason: 'not found' }] });
    const redriven = await eventually(async () => {
      const d = await detail(tenant, one?.id ?? '');
      return d.status === 'succeeded' ? d : undefined;
    }, 'the redriven delivery succeeded');
    expect(redriven.attempts.map((a) => [a.trigger, a.outcome])).toEqual([
      ['scheduled', 'failed'],
      ['scheduled', 'failed'],
      ['manual', 'succeeded'],
    ]);
    // Redrive without ids: all that remain.
    const rest = await call<{ redriven: string[] }>('POST', '/v1/dead-letters/redrive', { key: tenant.key, body: {} });
    expect(rest.body.redriven).toEqual([two?.id]);
    const ledger = await expectLedgerSettled(tenant, 2, new Map([[endpoint.id, target]]));
    expect(ledger.byStatus).toEqual({ succeeded: 2 });
    expect((await call<{ data: unknown[] }>('GET', '/v1/dead-letters', { key: tenant.key })).body.data).toEqual([]);
  });

  test('POST /v1/endpoints/{id}/recover re-sends failed and dead deliveries since a time, now', async () => {
    const tenant = await setup();
    const target = await receiver(respondWith(503));
    // The next retry would be an hour away: recover does not wait for it.
    const endpoint = await createEndpoint(tenant, { url: target.url, retryPolicy: { delaysSeconds: [3600] } });
    const since = new Date(Date.now() - 1000).toISOString();
    for (let i = 0; i < 3; i++) await postMessage(tenant, 'invoice.paid', { i });
    await target.waitFor(3);
    await eventually(async () => {
      const list = await call<{ data: unknown[] }>('GET', `/v1/endpoints/${endpoint.id}/deliveries?status=failed`, { key: tenant.key });
      return list.body.data.length === 3 ? true : undefined;
    }, 'three failed deliveries');
    target.responder = respondWith(200);
    const recovered = await call<{ queued: number; truncated: boolean }>('POST', `/v1/endpoints/${endpoint.id}/recover`, {
      key: tenant.key,
      body: { since },
    });
    expect(recovered.status).toBe(202);
    expect(recovered.body).toEqual({ queued: 3, truncated: false });
    const ledger = await expectLedgerSettled(tenant, 3, new Map([[endpoint.id, target]]));
    expect(ledger.byStatus).toEqual({ succeeded: 3 });
    // Nothing since a moment ago, and a bad time is refused.
    const none = await call<{ queued: number }>('POST', `/v1/endpoints/${endpoint.id}/recover`, {
      key: tenant.key,
      body: { since: new Date().toISOString() },
    });
    expect(none.body.queued).toBe(0);
    expect((await call('POST', `/v1/endpoints/${endpoint.id}/recover`, { key: tenant.key, body: { since: 'yesterday' } })).status).toBe(
      400,
    );
  });

  test('secret rotation: both signatures are sent for the overlap, and each verifies with its secret', async () => {
    const tenant = await setup();
    const target = await receiver();
    const endpoint = await createEndpoint(tenant, { url: target.url });
    const rotated = await call<{ secret: string; previous: { secret: string; expiresAt: string }[] }>(
      'POST',
      `/v1/endpoints/${endpoint.id}/secret/rotate`,
      { key: tenant.key },
    );
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(endpoint.secret);
    expect(rotated.body.previous).toEqual([{ secret: endpoint.secret, expiresAt: expect.any(String) }]);
    const overlapHours = (Date.parse(rotated.body.previous[0]?.expiresAt ?? '') - Date.now()) / 3_600_000;
    expect(overlapHours).toBeGreaterThan(23.9);
    expect(overlapHours).toBeLessThanOrEqual(24);
    await postMessage(tenant, 'invoice.paid', { rotated: true });
    const [request] = await target.waitFor(1);
    if (!request) throw new Error('no request');
    expect(request.headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(new Webhook(rotated.body.secret).verify(request.body, request.headers)).toMatchObject({ data: { rotated: true } });
    expect(new Webhook(endpoint.secret).verify(request.body, request.headers)).toMatchObject({ data: { rotated: true } });
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(request.body, request.headers)).toThrow();
    const current = await call<{ secret: string; previous: unknown[] }>('GET', `/v1/endpoints/${endpoint.id}/secret`, { key: tenant.key });
    expect(current.body.secret).toBe(rotated.body.secret);
    expect(current.body.previous).toHaveLength(1);
  });

  test('POST /v1/endpoints/{id}/test sends a sluice.ping and answers with the outcome', async () => {
    const tenant = await setup();
    const target = await receiver(respondWith(200, 'pong'));
    const endpoint = await createEndpoint(tenant, { url: target.url, eventTypes: ['invoice.paid'] });
    const result = await call<{ outcome: string; statusCode: number; responseBody: string; deliveryId: string; message: { type: string } }>(
      'POST',
      `/v1/endpoints/${endpoint.id}/test`,
      { key: tenant.key },
    );
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ outcome: 'succeeded', statusCode: 200, responseBody: 'pong', message: { type: 'sluice.ping' } });
    const [ping] = target.requests;
    expect(JSON.parse(ping?.body ?? '{}')).toMatchObject({ type: 'sluice.ping', data: { endpointId: endpoint.id } });
    expect(new Webhook(endpoint.secret).verify(ping?.body ?? '', ping?.headers ?? {})).toBeTruthy();
    expect((await detail(tenant, result.body.deliveryId)).attempts[0]?.trigger).toBe('manual');

    target.responder = respondWith(500, 'nope');
    const failing = await call<{ outcome: string; statusCode: number }>('POST', `/v1/endpoints/${endpoint.id}/test`, { key: tenant.key });
    expect(failing.body).toMatchObject({ outcome: 'failed', statusCode: 500 });
  });

  test('rateLimitPerSecond: excess deliveries wait their turn; none is dropped or failed', async () => {
    const tenant = await setup();
    const target = await receiver();
    const endpoint = await createEndpoint(tenant, { url: target.url, rateLimitPerSecond: 3 });
    for (let i = 0; i < 12; i++) await postMessage(tenant, 'invoice.paid', { i });
    const ledger = await expectLedgerSettled(tenant, 12, new Map([[endpoint.id, target]]), { timeoutMs: 30_000 });
    expect(ledger.byStatus).toEqual({ succeeded: 12 });
    const starts = await Promise.all(ledger.deliveries.map(async (d) => (await detail(tenant, d.id)).attempts.map((a) => a.startedAt)));
    const perSecond = new Map<number, number>();
    for (const at of starts.flat()) {
      const second = Math.floor(Date.parse(at) / 1000);
      perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
    }
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(3);
    expect(starts.flat()).toHaveLength(12);
  });

  test('an endpoint that times out on every attempt does not hold up a healthy one', async () => {
    const tenant = await setup();
    const hanging = await receiver(() => undefined); // never answers
    const healthy = await receiver();
    const slow = await createEndpoint(tenant, {
      url: hanging.url,
      timeoutMs: 3000,
      retryPolicy: { delaysSeconds: [1, 1, 1, 1, 1, 1, 1, 1] },
    });
    const good = await createEndpoint(tenant, { url: healthy.url });
    const postedAt = new Map<string, number>();
    // A steady stream for a few seconds, longer than the slow endpoint's timeout.
    for (let i = 0; i < 40; i++) {
      const message = await postMessage(tenant, 'invoice.paid', { i });
      postedAt.set(message.id, Date.now());
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    await healthy.waitFor(40);
    // Once the slow endpoint is known to fail, the healthy one's deliveries are not queued
    // behind its 3-second timeouts: each arrives well inside one timeout of being posted.
    const slowState = await call<{ failingSince?: string }>('GET', `/v1/endpoints/${slow.id}`, { key: tenant.key });
    expect(hanging.requests.length).toBeGreaterThan(0);
    const firstTimeoutAt = Math.min(...hanging.requests.map((r) => r.receivedAt)) + 3000;
    const lateMessages = [...postedAt.entries()].filter(([, at]) => at > firstTimeoutAt + 1000);
    expect(lateMessages.length).toBeGreaterThan(10);
    for (const [messageId, at] of lateMessages) {
      const arrival = healthy.requests.find((r) => r.headers['webhook-id'] === messageId);
      expect((arrival?.receivedAt ?? Number.POSITIVE_INFINITY) - at).toBeLessThan(3000);
    }
    expect(slowState.status).toBe(200);
    // Cleanup: stop the slow endpoint's retries.
    await call('DELETE', `/v1/endpoints/${slow.id}`, { key: tenant.key });
    expect(good.id).toMatch(/^ep_/);
  });

  test('a run of failures spanning the window disables the endpoint and tells the tenant', async () => {
    const tenant = await setup();
    const broken = await receiver(respondWith(500));
    const watcher = await receiver();
    // The shared test stack runs with a 15-second window (SLUICE_ENDPOINT_FAILURE_WINDOW_SECONDS).
    const endpoint = await createEndpoint(tenant, {
      url: broken.url,
      eventTypes: ['invoice.paid'],
      retryPolicy: { delaysSeconds: Array.from({ length: 20 }, () => 2) },
    });
    await createEndpoint(tenant, { url: watcher.url, eventTypes: ['endpoint.disabled'] });
    await postMessage(tenant, 'invoice.paid', {});
    const [announcement] = await watcher.waitFor(1, 45_000);
    const event = JSON.parse(announcement?.body ?? '{}') as {
      type: string;
      data: { endpointId: string; failingSince: string; disabledAt: string; reason: string };
    };
    expect(event.type).toBe('endpoint.disabled');
    expect(event.data.endpointId).toBe(endpoint.id);
    expect(event.data.reason).toMatch(/every attempt failed from/);
    const state = await call<{ disabled: boolean; failingSince?: string; disabledReason: string }>('GET', `/v1/endpoints/${endpoint.id}`, {
      key: tenant.key,
    });
    expect(state.body.disabled).toBe(true);
    // The run of failures spans the whole window, however many attempts fitted into it.
    expect(Date.parse(event.data.disabledAt) - Date.parse(event.data.failingSince)).toBeGreaterThanOrEqual(15_000);
    const attemptsSoFar = broken.requests.length;
    expect(attemptsSoFar).toBeGreaterThanOrEqual(2);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(broken.requests.length).toBe(attemptsSoFar);
  }, 60_000);
});
