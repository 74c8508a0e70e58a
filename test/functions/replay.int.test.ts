/**
 * Integration (real local stack, real receiver): bulk replay after an outage. 1000 deliveries go
 * dead while the receiver fails; once it is back, a replay started twice re-sends each exactly
 * once, never more than the endpoint's rate limit in any second, with its progress visible.
 */
import { Webhook } from 'standardwebhooks';
import { type Responder, receiverPool, respondWith } from '../support/receiver.ts';
import { call, createEndpoint, createTenant, eventually, postMessage, putEventType, type TestTenant, testStack } from '../support/stack.ts';

const MESSAGES = 1000;
const RATE = 100;

interface Task {
  id: string;
  kind: string;
  endpointId: string;
  status: 'queued' | 'running' | 'done' | 'failed';
  request: Record<string, unknown>;
  counts: { scanned: number; queued: number };
  finishedAt?: string;
  error?: string;
}

interface Totals {
  totals: Record<string, number>;
}

async function postAll(tenant: TestTenant, count: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < count) {
        const i = next++;
        for (;;) {
          const response = await fetch(`${testStack().apiUrl}/v1/messages`, {
            method: 'POST',
            headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ type: 'order.created', payload: { i } }),
          });
          // Over the tenant's ingest budget: wait as told, as a well-behaved producer does.
          if (response.status === 429) {
            await new Promise((resolve) => setTimeout(resolve, Number(response.headers.get('retry-after') ?? '1') * 1000));
            continue;
          }
          if (response.status !== 202) throw new Error(`message ${i} answered ${response.status}`);
          break;
        }
      }
    }),
  );
}

describe('POST /v1/endpoints/{id}/replay', () => {
  const receivers = receiverPool();
  afterAll(() => receivers.closeAll());

  test(`a replay of ${MESSAGES} dead deliveries, started twice, sends each once within the rate limit`, async () => {
    const tenant = await createTenant('replay test');
    await putEventType(tenant, 'order.created');
    // The receiver is down for the orders, but answers a heartbeat now and then: a success ends the
    // endpoint's run of failures, so it is not disabled (this stack disables after 15 s of them).
    const down: Responder = (request, index, res) =>
      (request.body.includes('"heartbeat":true') ? respondWith(200, 'ok') : respondWith(500, 'down'))(request, index, res);
    const receiver = await receivers.start(down);
    const endpoint = await createEndpoint(tenant, { url: receiver.url, retryPolicy: { delaysSeconds: [1] } });
    const since = new Date(Date.now() - 1000).toISOString();
    let heartbeats = 0;
    let outage = true;
    const beating = (async () => {
      while (outage) {
        await postMessage(tenant, 'order.created', { heartbeat: true });
        heartbeats++;
        await new Promise((resolve) => setTimeout(resolve, 3000));
      }
    })();
    await postAll(tenant, MESSAGES);

    const totals = async () => (await call<Totals>('GET', `/v1/endpoints/${endpoint.id}/stats`, { key: tenant.key })).body.totals;
    await eventually(async () => ((await totals()).dead === MESSAGES ? true : undefined), `${MESSAGES} dead deliveries`, 120_000, 500);
    outage = false;
    await beating;
    await eventually(async () => ((await totals()).succeeded === heartbeats ? true : undefined), 'the heartbeats delivered');

    // The receiver is back; the endpoint asks for at most 100 a second.
    receiver.responder = respondWith(200, 'ok');
    const patched = await call('PATCH', `/v1/endpoints/${endpoint.id}`, { key: tenant.key, body: { rateLimitPerSecond: RATE } });
    expect(patched.status).toBe(200);
    const before = receiver.requests.length;

    // Started twice (an operator's double click, a retried script): one task.
    const first = await call<Task>('POST', `/v1/endpoints/${endpoint.id}/replay`, { key: tenant.key, body: { since } });
    const second = await call<Task>('POST', `/v1/endpoints/${endpoint.id}/replay`, { key: tenant.key, body: { since } });
    expect(first.status).toBe(202);
    expect(first.headers.get('location')).toBe(`/v1/tasks/${first.body.id}`);
    expect(first.body).toMatchObject({ kind: 'replay', endpointId: endpoint.id, request: { since, status: 'failed' } });
    expect(second.status).toBe(202);
    expect(second.body.id).toBe(first.body.id);
    // A different replay of the same endpoint must wait for this one.
    const other = await call<{ error: { code: string; message: string } }>('POST', `/v1/endpoints/${endpoint.id}/replay`, {
      key: tenant.key,
      body: { since, status: 'all' },
    });
    expect(other.status).toBe(409);
    expect(other.body.error.message).toContain(first.body.id);

    // Progress is visible while it runs, and it ends done with every delivery counted.
    const seen = new Set<string>();
    const done = await eventually(
      async () => {
        const task = await call<Task>('GET', `/v1/tasks/${first.body.id}`, { key: tenant.key });
        seen.add(task.body.status);
        return task.body.status === 'done' || task.body.status === 'failed' ? task.body : undefined;
      },
      'the replay task to finish',
      120_000,
      200,
    );
    expect(done).toMatchObject({ status: 'done', counts: { scanned: MESSAGES, queued: MESSAGES } });
    expect(seen.has('running')).toBe(true);

    await receiver.waitFor(before + MESSAGES);
    // A moment more: nothing else arrives (no second attempt from the second start or a duplicate job).
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const replayed = receiver.requests.slice(before);
    expect(replayed).toHaveLength(MESSAGES);
    expect(new Set(replayed.map((r) => r.headers['webhook-id'])).size).toBe(MESSAGES);
    // Signed like any attempt.
    const webhook = new Webhook(endpoint.secret);
    for (const request of replayed.slice(0, 5)) expect(() => webhook.verify(request.body, request.headers)).not.toThrow();
    // The rate limiter's windows are the attempt's seconds, which the signature's timestamp carries.
    const perSecond = new Map<string, number>();
    for (const request of replayed) {
      const second = request.headers['webhook-timestamp'] ?? '';
      perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
    }
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(RATE);
    // 1000 at 100 a second takes ten seconds at least.
    expect(perSecond.size).toBeGreaterThanOrEqual(MESSAGES / RATE);
    const arrivals = replayed.map((r) => r.receivedAt);
    console.log(
      `replay: ${JSON.stringify({
        deliveries: MESSAGES,
        rateLimitPerSecond: RATE,
        secondsFirstToLast: Number(((Math.max(...arrivals) - Math.min(...arrivals)) / 1000).toFixed(1)),
        busiestSecond: Math.max(...perSecond.values()),
        secondsWithAttempts: perSecond.size,
      })}`,
    );

    const after = await eventually(async () => {
      const now = await totals();
      return now.succeeded === MESSAGES + heartbeats ? now : undefined;
    }, 'every delivery succeeded');
    expect(after.dead ?? 0).toBe(0);

    // A new replay now finds nothing left that failed, and is done at once.
    const again = await call<Task>('POST', `/v1/endpoints/${endpoint.id}/replay`, { key: tenant.key, body: { since } });
    expect(again.body.id).not.toBe(first.body.id);
    const empty = await eventually(async () => {
      const task = (await call<Task>('GET', `/v1/tasks/${again.body.id}`, { key: tenant.key })).body;
      return task.status === 'done' ? task : undefined;
    }, 'the second replay to finish');
    expect(empty.counts).toEqual({ scanned: 0, queued: 0 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.requests.length).toBe(before + MESSAGES);
  }, 300_000);

  test('bad requests get a 4xx that says what to fix; a task is the tenant’s alone', async () => {
    const tenant = await createTenant('replay errors');
    const receiver = await receivers.start();
    const endpoint = await createEndpoint(tenant, { url: receiver.url });
    const replay = (body: unknown, id = endpoint.id, key = tenant.key) =>
      call<{ error: { code: string; message: string; details?: { path?: string; message: string }[] } }>(
        'POST',
        `/v1/endpoints/${id}/replay`,
        { key, body },
      );
    const future = await replay({ since: new Date(Date.now() + 3_600_000).toISOString() });
    expect(future.status).toBe(400);
    expect(future.body.error.message).toBe('`since` is in the future');
    expect((await replay({})).status).toBe(400);
    expect((await replay({ since: 'yesterday' })).status).toBe(400);
    expect((await replay({ since: '2026-01-01T00:00:00Z', status: 'sometimes' })).status).toBe(400);
    expect((await replay({ since: '2026-01-01T00:00:00Z', until: '2025-01-01T00:00:00Z' })).body.error.message).toBe(
      '`until` must be after `since`',
    );
    expect((await replay({ since: '2026-01-01T00:00:00Z', extra: 1 })).status).toBe(400);
    expect((await replay({ since: '2026-01-01T00:00:00Z' }, 'ep_nope')).status).toBe(404);

    const started = await replay({ since: '2026-01-01T00:00:00Z' });
    expect(started.status).toBe(202);
    const taskId = (started.body as unknown as Task).id;
    const stranger = await createTenant('replay stranger');
    expect((await call('GET', `/v1/tasks/${taskId}`, { key: stranger.key })).status).toBe(404);
    expect((await replay({ since: '2026-01-01T00:00:00Z' }, endpoint.id, stranger.key)).status).toBe(404);
    expect((await call('GET', '/v1/tasks/task_nope', { key: tenant.key })).status).toBe(404);

    await call('PATCH', `/v1/endpoints/${endpoint.id}`, { key: tenant.key, body: { disabled: true } });
    const disabled = await replay({ since: '2026-01-01T00:00:00Z', status: 'dead' });
    expect(disabled.status).toBe(409);
    expect(disabled.body.error.message).toContain('is disabled');
  });
});
