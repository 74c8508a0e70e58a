import { AccessService, authorize, portalAccessOf, type RouteGate } from '../../../../functions/lib/core/access.ts';
import { ForbiddenScopeError, NotFoundError, UnauthorizedError, ValidationError } from '../../../../functions/lib/core/errors.ts';
import { ulidIdGenerator } from '../../../../functions/lib/core/ids.ts';
import type { Principal, Tenant } from '../../../../functions/lib/core/model.ts';
import { MAX_PORTAL_SESSION_SECONDS, PortalSessionService } from '../../../../functions/lib/core/portal-sessions.ts';
import { SecretBox } from '../../../../functions/lib/crypto/secret-box.ts';
import { FakeClock, InMemoryApiKeyStore, T0 } from './fakes.ts';

const tenantA: Tenant = { id: 'ten_A', name: 'Acme locks', createdAt: T0.toISOString() };

function setup() {
  const clock = new FakeClock(T0);
  const box = new SecretBox(SecretBox.generateKey());
  const tenants = { get: async (id: string) => (id === tenantA.id ? tenantA : undefined) };
  const sessions = new PortalSessionService({ sealer: box, tenants, clock, ids: ulidIdGenerator(() => clock.now().getTime()) });
  const access = new AccessService({
    apiKeys: new InMemoryApiKeyStore(),
    rootKey: { hashes: async () => [] },
    clock,
    ids: ulidIdGenerator(),
    portalSessions: sessions,
  });
  return { clock, box, sessions, access };
}

const root: Principal = { kind: 'root' };
const adminOf = (tenantId: string): Principal => ({ kind: 'tenant', tenantId, keyId: 'key_1', scopes: ['admin'] });
const get = (extra: Partial<RouteGate> = {}): RouteGate => ({ method: 'GET', access: ['admin'], ...extra });
const post = (extra: Partial<RouteGate> = {}): RouteGate => ({ method: 'POST', access: ['admin'], ...extra });

describe('portal session tokens', () => {
  test('a token opens as its tenant, with its capability and expiry, and no ledger read', async () => {
    const { sessions, access } = setup();
    const { session, token } = await sessions.open(adminOf('ten_A'), { capability: 'read' });
    expect(token).toMatch(/^pst_v2\./);
    expect(session).toEqual({
      id: expect.stringMatching(/^pss_/),
      tenantId: 'ten_A',
      capability: 'read',
      expiresAt: '2025-03-01T13:00:00.000Z',
    });
    await expect(access.authenticate(token)).resolves.toEqual({
      kind: 'tenant',
      tenantId: 'ten_A',
      keyId: session.id,
      scopes: ['admin'],
      session: { capability: 'read', expiresAt: session.expiresAt },
    });
  });

  test('expires at expiresAt: 401 from then on, saying to ask for a new link', async () => {
    const { sessions, access, clock } = setup();
    const { token } = await sessions.open(adminOf('ten_A'), { capability: 'manage', expiresInSeconds: 60 });
    clock.advance(59_999);
    await expect(access.authenticate(token)).resolves.toMatchObject({ tenantId: 'ten_A' });
    clock.advance(1);
    await expect(access.authenticate(token)).rejects.toThrow(UnauthorizedError);
    await expect(access.authenticate(token)).rejects.toThrow(/expired at 2025-03-01T12:01:00.000Z: ask for a new portal link/);
  });

  test('a forged, altered or foreign-keyed token is 401', async () => {
    const { sessions, access } = setup();
    const { token } = await sessions.open(adminOf('ten_A'), { capability: 'read' });
    const other = new PortalSessionService({
      sealer: new SecretBox(SecretBox.generateKey()),
      tenants: { get: async () => tenantA },
      clock: new FakeClock(T0),
      ids: ulidIdGenerator(),
    });
    const foreign = (await other.open(adminOf('ten_A'), { capability: 'manage' })).token;
    const flipped = `${token.slice(0, -3)}${token.at(-3) === 'A' ? 'B' : 'A'}${token.slice(-2)}`;
    for (const bad of ['pst_', 'pst_garbage', 'pst_v2.k1.a.b.c', flipped, foreign]) {
      await expect(access.authenticate(bad)).rejects.toThrow(/portal session token is not valid/);
    }
  });

  test('another value sealed with the same keys cannot pass for a session', async () => {
    const { box, access } = setup();
    const lookalike = JSON.stringify({ id: 'pss_X', tenantId: 'ten_A', capability: 'manage', expiresAt: '2030-01-01T00:00:00Z' });
    await expect(access.authenticate(`pst_${box.seal(lookalike)}`)).rejects.toThrow(UnauthorizedError);
  });

  test('the root key opens a session for a tenant it names; an unknown tenant is 404', async () => {
    const { sessions } = setup();
    await expect(sessions.open(root, { tenantId: 'ten_A', capability: 'manage' })).resolves.toMatchObject({
      session: { tenantId: 'ten_A', capability: 'manage' },
    });
    await expect(sessions.open(root, { capability: 'read' })).rejects.toThrow(ValidationError);
    await expect(sessions.open(root, { tenantId: 'ten_Z', capability: 'read' })).rejects.toThrow(NotFoundError);
  });

  test('an admin key opens sessions for its own tenant only, and a session opens none', async () => {
    const { sessions, access } = setup();
    await expect(sessions.open(adminOf('ten_A'), { tenantId: 'ten_A', capability: 'read' })).resolves.toBeDefined();
    await expect(sessions.open(adminOf('ten_A'), { tenantId: 'ten_B', capability: 'read' })).rejects.toThrow(ForbiddenScopeError);
    const { token } = await sessions.open(adminOf('ten_A'), { capability: 'manage' });
    await expect(sessions.open(await access.authenticate(token), { capability: 'manage' })).rejects.toThrow(ForbiddenScopeError);
  });

  test('lasts 1 h by default and at most what the route allows, in whole seconds', async () => {
    const { sessions, clock } = setup();
    clock.advance(500);
    const { session } = await sessions.open(adminOf('ten_A'), { capability: 'read', expiresInSeconds: MAX_PORTAL_SESSION_SECONDS });
    expect(session.expiresAt).toBe('2025-03-02T12:00:00.000Z');
  });

  test('current names the session and its tenant; an API key has none (404)', async () => {
    const { sessions, access } = setup();
    const { session, token } = await sessions.open(adminOf('ten_A'), { capability: 'read' });
    await expect(sessions.current(await access.authenticate(token))).resolves.toEqual({ ...session, tenantName: 'Acme locks' });
    await expect(sessions.current(adminOf('ten_A'))).rejects.toThrow(/^no portal session: this call was made with an API key/);
  });
});

describe('what a portal session may call', () => {
  const session = (capability: 'read' | 'manage'): Principal => ({
    kind: 'tenant',
    tenantId: 'ten_A',
    keyId: 'pss_1',
    scopes: ['admin'],
    session: { capability, expiresAt: '2030-01-01T00:00:00.000Z' },
  });

  test('the method decides unless the route says: GET needs read, anything else manage; root routes never', () => {
    expect(portalAccessOf(get())).toBe('read');
    expect(portalAccessOf(post())).toBe('manage');
    expect(portalAccessOf({ method: 'DELETE', access: ['admin'] })).toBe('manage');
    expect(portalAccessOf(get({ portal: 'manage' }))).toBe('manage');
    expect(portalAccessOf(post({ portal: 'never' }))).toBe('never');
    expect(portalAccessOf({ method: 'GET', access: 'root' })).toBe('never');
  });

  test('a read session reads, and gets 403 on every write and on GETs that reveal a secret', () => {
    expect(authorize(session('read'), get())).toMatchObject({ keyId: 'pss_1' });
    expect(() => authorize(session('read'), post())).toThrow(/needs a 'manage' portal session, and this one is 'read'/);
    expect(() => authorize(session('read'), get({ portal: 'manage' }))).toThrow(ForbiddenScopeError);
  });

  test('a manage session writes, but never calls what is the vendor’s alone or the root’s', () => {
    expect(authorize(session('manage'), post())).toMatchObject({ keyId: 'pss_1' });
    expect(authorize(session('manage'), get({ portal: 'manage' }))).toMatchObject({ keyId: 'pss_1' });
    expect(() => authorize(session('manage'), post({ portal: 'never' }))).toThrow(/a portal session cannot call this route/);
    expect(() => authorize(session('manage'), { method: 'GET', access: 'root' })).toThrow(ForbiddenScopeError);
  });

  test('the root key passes a tenant route only where it may act for a tenant', () => {
    expect(authorize(root, post({ rootActsForTenant: true }))).toBe(root);
    expect(() => authorize(root, post())).toThrow(ForbiddenScopeError);
  });
});
