/**
 * Integration (real local stack): portal sessions. A token is the session sealed with the data
 * keys; it opens one tenant's routes as far as its capability goes, and nothing of the vendor's.
 */
import { call, createEndpoint, createKey, createTenant, putEventType, type TestTenant, testStack } from '../support/stack.ts';

interface CreatedSession {
  id: string;
  tenantId: string;
  capability: string;
  expiresAt: string;
  token: string;
  url: string;
}

async function openSession(tenant: TestTenant, body: Record<string, unknown> = {}): Promise<CreatedSession> {
  const created = await call<CreatedSession>('POST', '/v1/portal-sessions', { key: tenant.key, body });
  expect(created.status).toBe(201);
  return created.body;
}

describe('portal sessions', () => {
  test('an admin key opens a read session: a link with the token in its fragment, 1 h by default, never cached', async () => {
    const tenant = await createTenant('portal-read');
    const before = Date.now();
    const created = await call<CreatedSession>('POST', '/v1/portal-sessions', { key: tenant.key, body: {} });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const session = created.body;
    expect(session).toMatchObject({
      id: expect.stringMatching(/^pss_/),
      tenantId: tenant.id,
      capability: 'read',
      token: expect.stringMatching(/^pst_/),
    });
    expect(session.url).toBe(`${testStack().apiUrl}/portal#token=${encodeURIComponent(session.token)}`);
    const lasts = Date.parse(session.expiresAt) - before;
    expect(lasts).toBeGreaterThan(3590_000);
    // Whole seconds: the server's second may have begun after `before`.
    expect(lasts).toBeLessThanOrEqual(3601_000);

    const current = await call('GET', '/v1/portal-sessions/current', { key: session.token });
    expect(current).toMatchObject({
      status: 200,
      body: { id: session.id, tenantId: tenant.id, tenantName: 'portal-read', capability: 'read' },
    });
  });

  test('a read session reads history and endpoints, and gets 403 on every write and every secret', async () => {
    const tenant = await createTenant('portal-read-writes');
    await putEventType(tenant, 'lock.unlocked');
    const endpoint = await createEndpoint(tenant, { url: 'http://127.0.0.1:9/hook' });
    const { token } = await openSession(tenant, { capability: 'read' });

    for (const path of [
      '/v1/endpoints',
      `/v1/endpoints/${endpoint.id}`,
      '/v1/messages',
      '/v1/event-types',
      '/v1/dead-letters',
      '/v1/actions',
    ]) {
      expect({ path, status: (await call('GET', path, { key: token })).status }).toEqual({ path, status: 200 });
    }
    const refused: [string, string, unknown?][] = [
      ['POST', '/v1/endpoints', { url: 'https://example.com/hook' }],
      ['PATCH', `/v1/endpoints/${endpoint.id}`, { description: 'x' }],
      ['DELETE', `/v1/endpoints/${endpoint.id}`],
      ['POST', `/v1/endpoints/${endpoint.id}/secret/rotate`, {}],
      ['GET', `/v1/endpoints/${endpoint.id}/secret`],
      ['POST', '/v1/dead-letters/redrive', {}],
      ['GET', '/v1/api-keys'],
    ];
    for (const [method, path, body] of refused) {
      const answer = await call<{ error: { code: string; message: string } }>(method, path, { key: token, body });
      expect({ method, path, status: answer.status, code: answer.body.error.code }).toEqual({
        method,
        path,
        status: 403,
        code: 'forbidden_scope',
      });
    }
    // Nothing it tried took effect.
    expect((await call('GET', `/v1/endpoints/${endpoint.id}`, { key: tenant.key })).status).toBe(200);
  });

  test('a manage session edits endpoints and reveals secrets, but never sends messages, mints keys or opens sessions', async () => {
    const tenant = await createTenant('portal-manage');
    await putEventType(tenant, 'lock.unlocked');
    const { token } = await openSession(tenant, { capability: 'manage', expiresInSeconds: 600 });
    const created = await call<{ id: string }>('POST', '/v1/endpoints', { key: token, body: { url: 'http://127.0.0.1:9/hook' } });
    expect(created.status).toBe(201);
    expect((await call('GET', `/v1/endpoints/${created.body.id}/secret`, { key: token })).body).toMatchObject({
      secret: expect.stringMatching(/^whsec_/),
    });
    expect((await call('GET', '/v1/api-keys', { key: token })).status).toBe(200);

    const vendorOnly: [string, string, unknown][] = [
      ['POST', '/v1/messages', { eventType: 'lock.unlocked', payload: {} }],
      ['POST', '/v1/api-keys', { name: 'forever', scopes: ['admin'] }],
      ['POST', '/v1/portal-sessions', { capability: 'manage' }],
      ['PUT', '/v1/event-types/lock.unlocked', { description: 'x' }],
      ['POST', '/v1/tenants', { name: 'mine' }],
    ];
    for (const [method, path, body] of vendorOnly) {
      expect({ method, path, status: (await call(method, path, { key: token, body })).status }).toEqual({ method, path, status: 403 });
    }
  });

  test('a session is one tenant’s: another tenant’s endpoint is 404, and it triggers no inbound hook', async () => {
    const [mine, theirs] = [await createTenant('portal-mine'), await createTenant('portal-theirs')];
    const theirEndpoint = await createEndpoint(theirs, { url: 'http://127.0.0.1:9/hook' });
    const { token } = await openSession(mine, { capability: 'manage' });
    expect((await call('GET', `/v1/endpoints/${theirEndpoint.id}`, { key: token })).status).toBe(404);
    expect((await call<{ data: unknown[] }>('GET', '/v1/endpoints', { key: token })).body.data).toEqual([]);
    const hook = await call('POST', '/v1/hooks', { headers: { 'x-webhook-apikey': token }, body: { event_id: 'e' } });
    expect(hook.status).toBe(401);
  });

  test('the root key opens a session for any tenant it names; admin keys only for their own', async () => {
    const [tenant, other] = [await createTenant('portal-root'), await createTenant('portal-other')];
    const { rootKey } = testStack();
    const byRoot = await call<CreatedSession>('POST', '/v1/portal-sessions', {
      key: rootKey,
      body: { tenantId: tenant.id, capability: 'manage' },
    });
    expect(byRoot).toMatchObject({ status: 201, body: { tenantId: tenant.id, capability: 'manage' } });
    expect((await call('GET', '/v1/endpoints', { key: byRoot.body.token })).status).toBe(200);

    expect((await call('POST', '/v1/portal-sessions', { key: rootKey, body: {} })).status).toBe(400);
    expect((await call('POST', '/v1/portal-sessions', { key: rootKey, body: { tenantId: 'ten_01ARZ3NDEKTSV4RRFFQ69G5FAV' } })).status).toBe(
      404,
    );
    expect((await call('POST', '/v1/portal-sessions', { key: tenant.key, body: { tenantId: other.id } })).status).toBe(403);
    const ingestOnly = await createKey(tenant, ['ingest']);
    expect((await call('POST', '/v1/portal-sessions', { key: ingestOnly, body: {} })).status).toBe(403);
  });

  test('bad requests are 400s that say what to fix; forged tokens are 401; an API key has no current session', async () => {
    const tenant = await createTenant('portal-bad');
    for (const body of [{ capability: 'owner' }, { expiresInSeconds: 59 }, { expiresInSeconds: 86_401 }, { extra: 1 }]) {
      const answer = await call<{ error: { code: string; details: { path: string }[] } }>('POST', '/v1/portal-sessions', {
        key: tenant.key,
        body,
      });
      expect(answer.status).toBe(400);
      expect(answer.body.error.details.length).toBeGreaterThan(0);
    }
    const { token } = await openSession(tenant);
    const forged = `${token.slice(0, -4)}AAAA`;
    for (const bad of [forged, 'pst_nothing', `pst_${token.slice(4).split('.').reverse().join('.')}`]) {
      const answer = await call<{ error: { code: string; message: string } }>('GET', '/v1/endpoints', { key: bad });
      expect(answer.status).toBe(401);
      expect(answer.body.error.message).toMatch(/portal session token is not valid/);
    }
    const byKey = await call<{ error: { code: string; message: string } }>('GET', '/v1/portal-sessions/current', { key: tenant.key });
    expect(byKey).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found', message: expect.stringMatching(/^no portal session: /) } },
    });
  });
});
