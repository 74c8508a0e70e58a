import { createHash } from 'node:crypto';
import {
  AccessService,
  asTenant,
  authorize,
  generateApiKey,
  hashKey,
  maskKey,
  type RouteAccess,
  sameDigest,
} from '../../../../functions/lib/core/access.ts';
import { ForbiddenScopeError, UnauthorizedError } from '../../../../functions/lib/core/errors.ts';
import { ulidIdGenerator } from '../../../../functions/lib/core/ids.ts';
import type { Principal, Scope } from '../../../../functions/lib/core/model.ts';
import { FakeClock, InMemoryApiKeyStore, T0 } from './fakes.ts';

const ROOT_KEY = 'sk_root_0123456789abcdefghijklmnopqrstuvwxyzABCDEF';

function setup() {
  const apiKeys = new InMemoryApiKeyStore();
  const clock = new FakeClock(T0);
  let rootHashReads = 0;
  const service = new AccessService({
    apiKeys,
    rootKey: {
      hash: async () => {
        rootHashReads++;
        return hashKey(ROOT_KEY);
      },
    },
    clock,
    ids: ulidIdGenerator(() => clock.now().getTime()),
  });
  return { service, apiKeys, clock, rootHashReads: () => rootHashReads };
}

function tenant(scopes: readonly Scope[]): Principal {
  return { kind: 'tenant', tenantId: 'ten_A', keyId: 'key_A', scopes };
}

describe('API keys', () => {
  test('look like sk_ + 43 base64url characters (256 random bits) and differ each time', () => {
    const keys = Array.from({ length: 50 }, () => generateApiKey());
    for (const key of keys) expect(key).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(keys[0]?.slice(3) ?? '', 'base64url')).toHaveLength(32);
    expect(new Set(keys).size).toBe(keys.length);
  });

  test('hashKey is the hex SHA-256 of the key', () => {
    expect(hashKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashKey('sk_é')).toBe(createHash('sha256').update(Buffer.from('sk_é', 'utf8')).digest('hex'));
    expect(hashKey('x')).toMatch(/^[0-9a-f]{64}$/);
  });

  test('maskKey shows the last four characters only', () => {
    expect(maskKey('abcd')).toBe('sk_…abcd');
  });
});

describe('sameDigest', () => {
  const a = hashKey('a');
  const b = hashKey('b');

  test('equal digests match, different ones do not', () => {
    expect(sameDigest(a, a)).toBe(true);
    expect(sameDigest(a, `${a}`)).toBe(true);
    expect(sameDigest(a, b)).toBe(false);
    // One differing nibble at either end.
    expect(sameDigest(a, `${a.slice(0, -1)}${a.endsWith('0') ? '1' : '0'}`)).toBe(false);
    expect(sameDigest(a, `${a.startsWith('0') ? '1' : '0'}${a.slice(1)}`)).toBe(false);
  });

  test('digests of different lengths never match (and do not throw like timingSafeEqual would)', () => {
    expect(sameDigest(a, a.slice(0, 62))).toBe(false);
    expect(sameDigest(a.slice(0, 62), a)).toBe(false);
  });

  test('empty input never matches, not even itself', () => {
    expect(sameDigest('', '')).toBe(false);
    expect(sameDigest('', a)).toBe(false);
  });

  test('hex is compared by value, so case does not matter', () => {
    expect(sameDigest(a.toUpperCase(), a)).toBe(true);
  });
});

describe('AccessService.authenticate', () => {
  test('the root key is the root principal', async () => {
    const s = setup();
    await expect(s.service.authenticate(ROOT_KEY)).resolves.toEqual({ kind: 'root' });
    expect(s.apiKeys.touchCalls).toEqual([]);
  });

  test('a tenant key is a tenant principal with its scopes', async () => {
    const s = setup();
    const { apiKey, key } = await s.service.createKey('ten_A', 'ingest only', ['ingest', 'ingest', 'receiver']);
    expect(apiKey).toMatchObject({ tenantId: 'ten_A', name: 'ingest only', scopes: ['ingest', 'receiver'], last4: key.slice(-4) });
    expect(apiKey.id).toMatch(/^key_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(apiKey.createdAt).toBe(T0.toISOString());
    await expect(s.service.authenticate(key)).resolves.toEqual({
      kind: 'tenant',
      tenantId: 'ten_A',
      keyId: apiKey.id,
      scopes: ['ingest', 'receiver'],
    });
  });

  test('the store keeps the hash for lookup and the plaintext for reveal only', async () => {
    const s = setup();
    const { apiKey, key } = await s.service.createKey('ten_A', 'k', ['admin']);
    expect([...s.apiKeys.grants.keys()]).toEqual([hashKey(key)]);
    await expect(s.apiKeys.reveal('ten_A', apiKey.id)).resolves.toBe(key);
  });

  test.each([
    ['missing', undefined],
    ['empty', ''],
  ])('a %s key is UnauthorizedError', async (_what, key) => {
    const s = setup();
    await expect(s.service.authenticate(key)).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(s.service.authenticate(key)).rejects.toMatchObject({ code: 'unauthorized' });
  });

  test('an unknown key is UnauthorizedError', async () => {
    const s = setup();
    await s.service.createKey('ten_A', 'k', ['admin']);
    await expect(s.service.authenticate(generateApiKey())).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(s.service.authenticate(`${ROOT_KEY}x`)).rejects.toBeInstanceOf(UnauthorizedError);
  });

  test('a revoked key stops working at once', async () => {
    const s = setup();
    const { apiKey, key } = await s.service.createKey('ten_A', 'k', ['admin']);
    await s.service.authenticate(key);
    await s.apiKeys.delete('ten_A', apiKey.id);
    await expect(s.service.authenticate(key)).rejects.toBeInstanceOf(UnauthorizedError);
  });

  test('a store that answers a grant for another hash is not trusted', async () => {
    const s = setup();
    const { key } = await s.service.createKey('ten_A', 'k', ['admin']);
    const grant = s.apiKeys.grants.get(hashKey(key));
    if (!grant) throw new Error('grant missing');
    s.apiKeys.grants.set(hashKey('sk_other'), grant);
    await expect(s.service.authenticate('sk_other')).rejects.toBeInstanceOf(UnauthorizedError);
  });

  test('lastUsedAt is touched at most once a minute', async () => {
    const s = setup();
    const { apiKey, key } = await s.service.createKey('ten_A', 'k', ['ingest']);
    await s.service.authenticate(key);
    expect(s.apiKeys.touchCalls).toEqual([{ keyId: apiKey.id, at: T0.toISOString() }]);

    s.clock.advance(30_000);
    await s.service.authenticate(key);
    s.clock.advance(30_000); // exactly a minute after the touch
    await s.service.authenticate(key);
    expect(s.apiKeys.touchCalls).toHaveLength(1);

    s.clock.advance(1);
    await s.service.authenticate(key);
    expect(s.apiKeys.touchCalls).toHaveLength(2);
    expect(s.apiKeys.touchCalls[1]?.at).toBe(new Date(T0.getTime() + 60_001).toISOString());
    expect(s.apiKeys.keys.get(apiKey.id)?.lastUsedAt).toBe(new Date(T0.getTime() + 60_001).toISOString());
  });
});

describe('authorize', () => {
  const tenantRoutes: readonly (readonly Scope[])[] = [['admin'], ['ingest'], ['inbound'], ['receiver'], ['receiver', 'admin']];

  test('an admin key passes every tenant route', () => {
    const admin = tenant(['admin']);
    for (const access of tenantRoutes) expect(authorize(admin, access)).toBe(admin);
  });

  test('a key passes a route that allows one of its scopes', () => {
    const key = tenant(['ingest', 'receiver']);
    expect(authorize(key, ['ingest'])).toBe(key);
    expect(authorize(key, ['receiver', 'admin'])).toBe(key);
  });

  test('an ingest key is refused on admin routes with ForbiddenScopeError', () => {
    const ingest = tenant(['ingest']);
    expect(() => authorize(ingest, ['admin'])).toThrow(ForbiddenScopeError);
    expect(() => authorize(ingest, ['inbound'])).toThrow(ForbiddenScopeError);
    expect(() => authorize(ingest, ['admin'])).toThrow(/'admin'/);
  });

  test('a key with no scopes is refused everywhere', () => {
    for (const access of tenantRoutes) expect(() => authorize(tenant([]), access)).toThrow(ForbiddenScopeError);
  });

  test('the root key passes root routes only', () => {
    const root: Principal = { kind: 'root' };
    expect(authorize(root, 'root')).toBe(root);
    for (const access of tenantRoutes) expect(() => authorize(root, access)).toThrow(ForbiddenScopeError);
  });

  test('tenant keys, even admin ones, are refused on root routes', () => {
    const access: RouteAccess = 'root';
    expect(() => authorize(tenant(['admin']), access)).toThrow(ForbiddenScopeError);
  });

  test('asTenant narrows to the tenant principal or refuses the root key', () => {
    const admin = tenant(['admin']);
    expect(asTenant(admin)).toBe(admin);
    expect(() => asTenant({ kind: 'root' })).toThrow(ForbiddenScopeError);
  });
});
