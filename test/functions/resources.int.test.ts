/**
 * Integration (real local stack): tenants, keys, event types, endpoints, idempotent ingest,
 * pagination and the OpenAPI document, through the HTTP API and checked in DynamoDB.
 */
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { Receiver } from '../support/receiver.ts';
import {
  call,
  createEndpoint,
  createKey,
  createTenant,
  eventually,
  ledgerClient,
  postMessage,
  putEventType,
  type TestTenant,
  testStack,
} from '../support/stack.ts';

describe('tenants and API keys', () => {
  test('the root key creates and lists tenants; each tenant gets an admin key shown once', async () => {
    const created = await call<{ id: string; name: string; apiKey: string }>('POST', '/v1/tenants', {
      key: testStack().rootKey,
      body: { name: 'Lockly AB' },
    });
    expect(created.status).toBe(201);
    expect(created.body.id).toMatch(/^ten_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(created.body.apiKey).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    const list = await call<{ data: { id: string; name: string }[] }>('GET', '/v1/tenants?limit=100', { key: testStack().rootKey });
    expect(list.body.data).toContainEqual(expect.objectContaining({ id: created.body.id, name: 'Lockly AB' }));
    const keys = await call<{ data: { key: string; scopes: string[] }[] }>('GET', '/v1/api-keys', { key: created.body.apiKey });
    expect(keys.body.data).toHaveLength(1);
    expect(keys.body.data[0]?.scopes).toEqual(['admin']);
    expect(keys.body.data[0]?.key).toBe(`sk_…${created.body.apiKey.slice(-4)}`);
  });

  test('keys are stored hashed and sealed, never in the clear', async () => {
    const tenant = await createTenant();
    const key = await createKey(tenant, ['ingest']);
    const ledger = ledgerClient();
    const items = await ledger.send(
      new QueryCommand({
        TableName: 'sluice-ledger',
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `TEN#${tenant.id}` },
      }),
    );
    const dump = JSON.stringify(items.Items);
    expect(dump).not.toContain(key);
    expect(dump).not.toContain(tenant.key);
    expect(dump).toMatch(/"keyHash":"[0-9a-f]{64}"/);
    // Sealed under the data key's id: a bare key (no rotation yet) is key k1.
    expect(dump).toMatch(/"sealedKey":"v2\.k1\./);
    ledger.destroy();
  });

  test("a tenant's ingest budget: over it, 429 with Retry-After; other tenants post on; PATCH changes it", async () => {
    const root = testStack().rootKey;
    const created = await call<{ id: string; apiKey: string; ingestPerSecond: number }>('POST', '/v1/tenants', {
      key: root,
      body: { name: 'slow poster', ingestPerSecond: 2 },
    });
    expect(created.status).toBe(201);
    expect(created.body.ingestPerSecond).toBe(2);
    const slow: TestTenant = { id: created.body.id, key: created.body.apiKey };
    const other = await createTenant();
    for (const tenant of [slow, other]) await putEventType(tenant, 'lock.unlocked');

    const post = (tenant: TestTenant) =>
      call<{ error?: { code: string; message: string } }>('POST', '/v1/messages', {
        key: tenant.key,
        body: { type: 'lock.unlocked', payload: {} },
      });
    const burst = await Promise.all(Array.from({ length: 6 }, () => post(slow)));
    const refused = burst.filter((r) => r.status === 429);
    // A burst of one second's worth (2) gets through; the rest wait.
    expect(burst.filter((r) => r.status === 202).length).toBeGreaterThanOrEqual(2);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    for (const answer of refused) {
      expect(answer.headers.get('retry-after')).toBe('1');
      expect(answer.body.error).toEqual({
        code: 'rate_limited',
        message: 'this tenant is over its ingest budget; retry in 1 s',
        requestId: expect.any(String),
      });
    }
    expect((await Promise.all(Array.from({ length: 6 }, () => post(other)))).map((r) => r.status)).toEqual(Array(6).fill(202));

    // 0 lifts the limit; on the local stack the change applies at once (in AWS within SLUICE_CACHE_SECONDS).
    const lifted = await call<{ ingestPerSecond: number; name: string }>('PATCH', `/v1/tenants/${slow.id}`, {
      key: root,
      body: { ingestPerSecond: 0 },
    });
    expect(lifted.status).toBe(200);
    expect(lifted.body).toMatchObject({ id: slow.id, name: 'slow poster', ingestPerSecond: 0 });
    expect((await Promise.all(Array.from({ length: 10 }, () => post(slow)))).map((r) => r.status)).toEqual(Array(10).fill(202));

    // null restores the deployment's default: the field disappears.
    const restored = await call<Record<string, unknown>>('PATCH', `/v1/tenants/${slow.id}`, { key: root, body: { ingestPerSecond: null } });
    expect(restored.status).toBe(200);
    expect(restored.body).not.toHaveProperty('ingestPerSecond');
  });

  test('PATCH /v1/tenants/{id}: root only, 404 for an unknown tenant, 400 for an empty or invalid patch', async () => {
    const root = testStack().rootKey;
    const tenant = await createTenant();
    expect((await call('PATCH', `/v1/tenants/${tenant.id}`, { key: tenant.key, body: { ingestPerSecond: 0 } })).status).toBe(403);
    expect((await call('PATCH', '/v1/tenants/ten_01JN000000000000000000NONE', { key: root, body: { name: 'x' } })).status).toBe(404);
    const empty = await call<{ error: { code: string } }>('PATCH', `/v1/tenants/${tenant.id}`, { key: root, body: {} });
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe('validation_failed');
    for (const ingestPerSecond of [-1, 1.5, '10'])
      expect((await call('PATCH', `/v1/tenants/${tenant.id}`, { key: root, body: { ingestPerSecond } })).status).toBe(400);
    const renamed = await call<{ name: string }>('PATCH', `/v1/tenants/${tenant.id}`, { key: root, body: { name: 'Renamed AB' } });
    expect(renamed.body.name).toBe('Renamed AB');
  });

  test('lastUsedAt appears once a key is used', async () => {
    const tenant = await createTenant();
    const key = await createKey(tenant, ['ingest']);
    await call('GET', '/v1/event-types', { key });
    const keys = await call<{ data: { key: string; lastUsedAt?: string }[] }>('GET', '/v1/api-keys', { key: tenant.key });
    expect(keys.body.data.find((k) => key.endsWith(k.key.slice(-4)))?.lastUsedAt).toMatch(/^20\d\d-/);
  });
});

describe('event types', () => {
  test('put creates then replaces, get, list by name, delete', async () => {
    const tenant = await createTenant();
    const created = await call('PUT', '/v1/event-types/contract.purchased', {
      key: tenant.key,
      body: { description: 'v1', schema: { type: 'object' } },
    });
    expect(created.status).toBe(201);
    const replaced = await call<{ description: string }>('PUT', '/v1/event-types/contract.purchased', {
      key: tenant.key,
      body: { description: 'v2' },
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body.description).toBe('v2');
    await putEventType(tenant, 'action_log.created');
    const list = await call<{ data: { name: string }[] }>('GET', '/v1/event-types', { key: tenant.key });
    expect(list.body.data.map((t) => t.name)).toEqual(['action_log.created', 'contract.purchased']);
    expect((await call('DELETE', '/v1/event-types/contract.purchased', { key: tenant.key })).status).toBe(204);
    expect((await call('GET', '/v1/event-types/contract.purchased', { key: tenant.key })).status).toBe(404);
  });

  test('a replaced schema takes effect for the next message', async () => {
    const tenant = await createTenant();
    await putEventType(tenant, 'subscription.created', { type: 'object', required: ['plan'] });
    expect((await call('POST', '/v1/messages', { key: tenant.key, body: { type: 'subscription.created', payload: {} } })).status).toBe(422);
    await putEventType(tenant, 'subscription.created', { type: 'object' });
    expect((await call('POST', '/v1/messages', { key: tenant.key, body: { type: 'subscription.created', payload: {} } })).status).toBe(202);
  });
});

describe('endpoints', () => {
  let tenant: TestTenant;
  beforeAll(async () => {
    tenant = await createTenant();
    await putEventType(tenant, 'lock.locked');
    await putEventType(tenant, 'lock.unlocked');
  });

  test('create returns a whsec_ secret and the defaults; get/list never show it or the password', async () => {
    const endpoint = await createEndpoint(tenant, {
      url: 'http://127.0.0.1:9/hook',
      auth: { type: 'basic', username: 'u', password: 'pw' },
    });
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(endpoint.secret.slice(6), 'base64')).toHaveLength(32);
    expect(endpoint).toMatchObject({ mode: 'full', timeoutMs: 10_000, retryPolicy: { preset: 'exponential' }, disabled: false });
    expect(endpoint.eventTypes).toBeUndefined();
    const fetched = await call<Record<string, unknown>>('GET', `/v1/endpoints/${endpoint.id}`, { key: tenant.key });
    expect(fetched.body.secret).toBeUndefined();
    expect(fetched.body.auth).toEqual({ type: 'basic', username: 'u' });
    const list = await call('GET', '/v1/endpoints', { key: tenant.key });
    expect(JSON.stringify(list.body)).not.toContain(endpoint.secret);
    expect(JSON.stringify(list.body)).not.toContain('"pw"');
    const secret = await call<{ secret: string }>('GET', `/v1/endpoints/${endpoint.id}/secret`, { key: tenant.key });
    expect(secret.body.secret).toBe(endpoint.secret);
  });

  test('the signing secret is sealed at rest', async () => {
    const endpoint = await createEndpoint(tenant, { url: 'http://127.0.0.1:9/hook' });
    const ledger = ledgerClient();
    const { Item } = await ledger.send(
      new GetCommand({ TableName: 'sluice-ledger', Key: { pk: `TEN#${tenant.id}`, sk: `EP#${endpoint.id}` } }),
    );
    expect(JSON.stringify(Item)).not.toContain(endpoint.secret.slice(6));
    ledger.destroy();
  });

  test('patch changes fields, null clears them, and the stored retry policy and timeout are kept', async () => {
    const endpoint = await createEndpoint(tenant, {
      url: 'http://127.0.0.1:9/a',
      eventTypes: ['lock.locked'],
      description: 'front door',
      retryPolicy: { preset: 'linear' },
      timeoutMs: 2500,
    });
    const patched = await call<Record<string, unknown>>('PATCH', `/v1/endpoints/${endpoint.id}`, {
      key: tenant.key,
      body: { eventTypes: null, description: null, url: 'http://127.0.0.1:9/b', rateLimitPerSecond: 5 },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      url: 'http://127.0.0.1:9/b',
      retryPolicy: { preset: 'linear' },
      timeoutMs: 2500,
      rateLimitPerSecond: 5,
    });
    expect(patched.body.eventTypes).toBeUndefined();
    expect(patched.body.description).toBeUndefined();
    expect((await call('DELETE', `/v1/endpoints/${endpoint.id}`, { key: tenant.key })).status).toBe(204);
    expect((await call('GET', `/v1/endpoints/${endpoint.id}`, { key: tenant.key })).status).toBe(404);
  });

  test('a disabled endpoint receives nothing; its delivery waits, and an endpoint with no filter gets every type', async () => {
    const live = await Receiver.start();
    const paused = await Receiver.start();
    try {
      await createEndpoint(tenant, { url: live.url });
      const disabled = await createEndpoint(tenant, { url: paused.url, disabled: true });
      const message = await postMessage(tenant, 'lock.unlocked', { lockId: 'x' });
      await live.waitFor(1);
      const deliveries = await eventually(async () => {
        const response = await call<{ data: { endpointId: string; status: string }[] }>('GET', `/v1/messages/${message.id}/deliveries`, {
          key: tenant.key,
        });
        return response.body.data.length >= 2 ? response.body.data : undefined;
      }, 'two deliveries');
      expect(deliveries.find((d) => d.endpointId === disabled.id)?.status).toBe('pending');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(paused.requests).toHaveLength(0);
    } finally {
      await live.close();
      await paused.close();
    }
  });
});

describe('messages', () => {
  let tenant: TestTenant;
  beforeAll(async () => {
    tenant = await createTenant();
    await putEventType(tenant, 'user.updated');
    await putEventType(tenant, 'user.signed_up');
  });

  test('Idempotency-Key: replays, even concurrent ones, return the first message and fan out once', async () => {
    const receiver = await Receiver.start();
    try {
      await createEndpoint(tenant, { url: receiver.url, eventTypes: ['user.updated'] });
      const headers = { 'idempotency-key': `order-${Date.now()}` };
      const answers = await Promise.all(
        Array.from({ length: 6 }, () =>
          call<{ id: string }>('POST', '/v1/messages', { key: tenant.key, body: { type: 'user.updated', payload: { n: 1 } }, headers }),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202, 202]);
      expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
      expect(answers.filter((a) => a.headers.get('idempotent-replayed') === 'false')).toHaveLength(1);
      await receiver.waitFor(1);
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(receiver.requests).toHaveLength(1);
      // A different key is a different message.
      const other = await postMessage(tenant, 'user.updated', { n: 1 }, { 'idempotency-key': `${headers['idempotency-key']}-b` });
      expect(other.id).not.toBe(answers[0]?.body.id);
    } finally {
      await receiver.close();
    }
  });

  test('an idempotency key is scoped to its tenant', async () => {
    const other = await createTenant();
    await putEventType(other, 'user.updated');
    const headers = { 'idempotency-key': 'shared-key-1' };
    const mine = await postMessage(tenant, 'user.updated', { a: 1 }, headers);
    const theirs = await postMessage(other, 'user.updated', { a: 1 }, headers);
    expect(theirs.id).not.toBe(mine.id);
  });

  test('get returns the payload byte-for-byte; list pages newest first with an opaque cursor and filters by type', async () => {
    const payload = { user: { email: 'åsa@example.se', tags: ['a', 'b'] }, total: 12.5, nested: { deep: [1, { x: null }] } };
    const posted: string[] = [];
    for (let i = 0; i < 5; i++) posted.push((await postMessage(tenant, i % 2 ? 'user.signed_up' : 'user.updated', { ...payload, i })).id);
    const one = await call<{ payload: unknown; type: string }>('GET', `/v1/messages/${posted[1]}`, { key: tenant.key });
    expect(one.body).toMatchObject({ type: 'user.signed_up', payload: { ...payload, i: 1 } });

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await call<{ data: { id: string }[]; nextCursor?: string }>(
        'GET',
        `/v1/messages?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        {
          key: tenant.key,
        },
      );
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.map((m) => m.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    const mine = seen.filter((id) => posted.includes(id));
    expect(mine).toEqual([...posted].reverse());
    expect(new Set(seen).size).toBe(seen.length);

    const signups = await call<{ data: { id: string; type: string }[] }>('GET', '/v1/messages?type=user.signed_up&limit=100', {
      key: tenant.key,
    });
    expect(signups.body.data.every((m) => m.type === 'user.signed_up')).toBe(true);
    expect(signups.body.data.map((m) => m.id)).toEqual(expect.arrayContaining([posted[1], posted[3]]));
  });
});

describe('OpenAPI', () => {
  test('GET /v1/openapi.json is generated from the route schemas and lists every route', async () => {
    const doc = await call<{
      openapi: string;
      paths: Record<string, Record<string, { operationId: string }>>;
      components: { schemas: Record<string, unknown> };
    }>('GET', '/v1/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/v1/messages', '/v1/endpoints/{id}', '/v1/deliveries/{id}', '/v1/tenants']),
    );
    expect(doc.body.paths['/v1/messages']?.post?.operationId).toBe('create-message');
    expect(Object.keys(doc.body.components.schemas)).toEqual(
      expect.arrayContaining(['Endpoint', 'Message', 'Delivery', 'Attempt', 'Error']),
    );
  });

  test('GET /health answers 200 with the stores and pollers', async () => {
    const health = await call<{ status: string; pollers: Record<string, unknown> }>('GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('ok');
    expect(Object.keys(health.body.pollers)).toEqual(['deliver', 'deliver-retries', 'dispatch']);
  });
});
