import { createHash } from 'node:crypto';
import {
  AccessService,
  asTenant,
  authorize,
  generateApiKey,
  hashKey,
  maskKey,
  type RouteAccess,
  type RouteGate,
  sameDigest,
} from '../../../../functions/lib/core/access.ts';
import { ApiKeyService } from '../../../../functions/lib/core/api-keys.ts';
import { DEFAULT_CACHE_SECONDS } from '../../../../functions/lib/core/cache.ts';
import { ForbiddenScopeError, NotFoundError, UnauthorizedError } from '../../../../functions/lib/core/errors.ts';
import { ulidIdGenerator } from '../../../../functions/lib/core/ids.ts';
import type { ApiKey, KeyGrant, Principal, Scope } from '../../../../functions/lib/core/model.ts';
import { FakeClock, InMemoryApiKeyStore, T0 } from './fakes.ts';

const ROOT_KEY = 'sk_root_0123456789abcdefghijklmnopqrstuvwxyzABCDEF';

function setup(options: { keyCacheSeconds?: number } = {}) {
  const apiKeys = new InMemoryApiKeyStore();
  const clock = new FakeClock(T0);
  let rootHashReads = 0;
  const service = new AccessService({
    apiKeys,
    rootKey: {
      hashes: async () => {
        rootHashReads++;
        return [hashKey(ROOT_KEY)];
      },
    },
    clock,
    ids: ulidIdGenerator(() => clock.now().getTime()),
    ...(options.keyCacheSeconds !== undefined && { keyCacheSeconds: options.keyCacheSeconds }),
  });
  /** Every read of the key store's grants. */
  const findGrant = jest.spyOn(apiKeys, 'findGrant');
  const apiKeyService = new ApiKeyService(service, apiKeys);
  return { service, apiKeys, apiKeyService, clock, findGrant, rootHashReads: () => rootHashReads };
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

  test('during a root-key hand-over both root keys are the root principal; after it, only the new one', async () => {
    const NEW_ROOT_KEY = 'root_new_0123456789abcdefghijklmnopqrstuvwxyz';
    const apiKeys = new InMemoryApiKeyStore();
    const clock = new FakeClock(T0);
    let valid = [hashKey(NEW_ROOT_KEY), hashKey(ROOT_KEY)];
    const service = new AccessService({
      apiKeys,
      rootKey: { hashes: async () => valid },
      clock,
      ids: ulidIdGenerator(() => clock.now().getTime()),
    });
    const findGrant = jest.spyOn(apiKeys, 'findGrant');
    await expect(service.authenticate(ROOT_KEY)).resolves.toEqual({ kind: 'root' });
    await expect(service.authenticate(NEW_ROOT_KEY)).resolves.toEqual({ kind: 'root' });
    expect(findGrant).not.toHaveBeenCalled();
    valid = [hashKey(NEW_ROOT_KEY)];
    await expect(service.authenticate(ROOT_KEY)).rejects.toThrow(UnauthorizedError);
    await expect(service.authenticate(NEW_ROOT_KEY)).resolves.toEqual({ kind: 'root' });
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

  test('a key revoked through ApiKeyService stops working at once in this process, cached or not', async () => {
    const s = setup();
    const { apiKey, key } = await s.service.createKey('ten_A', 'k', ['admin']);
    await s.service.authenticate(key);
    await s.apiKeyService.revoke('ten_A', apiKey.id);
    await expect(s.service.authenticate(key)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(s.apiKeys.grants.size).toBe(0);
    // Revoked before this process ever used it: nothing cached, the store says no.
    const { apiKey: unused, key: unusedKey } = await s.service.createKey('ten_A', 'k2', ['admin']);
    await s.apiKeyService.revoke('ten_A', unused.id);
    await expect(s.service.authenticate(unusedKey)).rejects.toBeInstanceOf(UnauthorizedError);
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

describe('AccessService: the key cache', () => {
  const TTL_MS = DEFAULT_CACHE_SECONDS * 1000;

  test(`a grant is kept for keyCacheSeconds (default ${DEFAULT_CACHE_SECONDS}): a second authenticate within it does not read the store`, async () => {
    expect(DEFAULT_CACHE_SECONDS).toBe(5);
    const s = setup();
    const { apiKey, key } = await s.service.createKey('ten_A', 'k', ['ingest']);
    const principal = { kind: 'tenant', tenantId: 'ten_A', keyId: apiKey.id, scopes: ['ingest'] };
    await expect(s.service.authenticate(key)).resolves.toEqual(principal);
    expect(s.findGrant).toHaveBeenCalledTimes(1);
    expect(s.findGrant).toHaveBeenCalledWith(hashKey(key));
    s.clock.advance(TTL_MS - 1);
    await expect(s.service.authenticate(key)).resolves.toEqual(principal);
    expect(s.findGrant).toHaveBeenCalledTimes(1);
  });

  test('after the ttl the store is read again (and its answer kept for another ttl)', async () => {
    const s = setup();
    const { key } = await s.service.createKey('ten_A', 'k', ['ingest']);
    await s.service.authenticate(key);
    s.clock.advance(TTL_MS);
    await s.service.authenticate(key);
    expect(s.findGrant).toHaveBeenCalledTimes(2);
    s.clock.advance(TTL_MS - 1);
    await s.service.authenticate(key);
    expect(s.findGrant).toHaveBeenCalledTimes(2);
  });

  test('keyCacheSeconds sets the ttl; 0 reads the store on every request', async () => {
    const long = setup({ keyCacheSeconds: 30 });
    const { key } = await long.service.createKey('ten_A', 'k', ['ingest']);
    await long.service.authenticate(key);
    long.clock.advance(29_999);
    await long.service.authenticate(key);
    expect(long.findGrant).toHaveBeenCalledTimes(1);
    long.clock.advance(1);
    await long.service.authenticate(key);
    expect(long.findGrant).toHaveBeenCalledTimes(2);

    const none = setup({ keyCacheSeconds: 0 });
    const { key: other } = await none.service.createKey('ten_A', 'k', ['ingest']);
    for (let i = 0; i < 3; i++) await none.service.authenticate(other);
    expect(none.findGrant).toHaveBeenCalledTimes(3);
  });

  test('a key deleted by another process keeps working here until the ttl ends, then stops', async () => {
    const s = setup();
    const { apiKey, key } = await s.service.createKey('ten_A', 'k', ['admin']);
    await s.service.authenticate(key);
    await s.apiKeys.delete('ten_A', apiKey.id);
    s.clock.advance(TTL_MS - 1);
    await expect(s.service.authenticate(key)).resolves.toMatchObject({ keyId: apiKey.id });
    s.clock.advance(1);
    await expect(s.service.authenticate(key)).rejects.toBeInstanceOf(UnauthorizedError);
  });

  test('revoking one key forgets only that key', async () => {
    const s = setup();
    const { apiKey: revoked, key: revokedKey } = await s.service.createKey('ten_A', 'k1', ['admin']);
    const { apiKey: kept, key: keptKey } = await s.service.createKey('ten_A', 'k2', ['admin']);
    await s.service.authenticate(revokedKey);
    await s.service.authenticate(keptKey);
    expect(s.findGrant).toHaveBeenCalledTimes(2);
    await s.apiKeyService.revoke('ten_A', revoked.id);
    await expect(s.service.authenticate(revokedKey)).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(s.service.authenticate(keptKey)).resolves.toMatchObject({ keyId: kept.id });
    // The kept key is still served from memory; the revoked one was looked up again, and not found.
    expect(s.findGrant).toHaveBeenCalledTimes(3);
    expect(s.findGrant).toHaveBeenLastCalledWith(hashKey(revokedKey));
  });

  test('revoking an unknown key, or another tenant’s, is a NotFoundError, and the key keeps working', async () => {
    const s = setup();
    const { apiKey, key } = await s.service.createKey('ten_A', 'k', ['admin']);
    await s.service.authenticate(key);
    await expect(s.apiKeyService.revoke('ten_A', 'key_01JN0000000000000000000000')).rejects.toBeInstanceOf(NotFoundError);
    await expect(s.apiKeyService.revoke('ten_B', apiKey.id)).rejects.toBeInstanceOf(NotFoundError);
    // The key was not deleted: it still works (whether from memory or the store).
    await expect(s.service.authenticate(key)).resolves.toMatchObject({ keyId: apiKey.id });
  });

  test('an unknown key is not cached: a key stored a moment later works at once', async () => {
    const s = setup();
    const key = generateApiKey();
    await expect(s.service.authenticate(key)).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(s.service.authenticate(key)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(s.findGrant).toHaveBeenCalledTimes(2);
    const apiKey: ApiKey = {
      id: 'key_01JN00000000000000000LATE',
      tenantId: 'ten_A',
      name: 'late',
      scopes: ['ingest'],
      last4: key.slice(-4),
      createdAt: T0.toISOString(),
    };
    await s.apiKeys.create(apiKey, hashKey(key), key);
    await expect(s.service.authenticate(key)).resolves.toEqual({ kind: 'tenant', tenantId: 'ten_A', keyId: apiKey.id, scopes: ['ingest'] });
    expect(s.findGrant).toHaveBeenCalledTimes(3);
  });

  test('a failed read of the store is not cached: the next request reads again', async () => {
    const s = setup();
    const { apiKey, key } = await s.service.createKey('ten_A', 'k', ['ingest']);
    s.findGrant.mockRejectedValueOnce(new Error('ProvisionedThroughputExceededException'));
    await expect(s.service.authenticate(key)).rejects.toThrow('ProvisionedThroughputExceededException');
    await expect(s.service.authenticate(key)).resolves.toMatchObject({ keyId: apiKey.id });
    expect(s.findGrant).toHaveBeenCalledTimes(2);
  });

  test('requests that miss at once share one read of the store', async () => {
    const s = setup();
    const { apiKey, key } = await s.service.createKey('ten_A', 'k', ['ingest']);
    const principals = await Promise.all([s.service.authenticate(key), s.service.authenticate(key), s.service.authenticate(key)]);
    expect(principals.map((p) => (p.kind === 'tenant' ? p.keyId : p.kind))).toEqual([apiKey.id, apiKey.id, apiKey.id]);
    expect(s.findGrant).toHaveBeenCalledTimes(1);
  });

  test('the root key never reads the key store', async () => {
    const s = setup();
    await s.service.authenticate(ROOT_KEY);
    await s.service.authenticate(ROOT_KEY);
    expect(s.findGrant).not.toHaveBeenCalled();
    expect(s.rootHashReads()).toBe(2);
  });

  test('a cached grant carries the lastUsedAt of its touch: no touch again within the minute, one after it', async () => {
    // A ttl longer than the touch interval, so the same cached grant decides both times.
    const s = setup({ keyCacheSeconds: 300 });
    const { apiKey, key } = await s.service.createKey('ten_A', 'k', ['ingest']);
    await s.service.authenticate(key);
    expect(s.apiKeys.touchCalls).toEqual([{ keyId: apiKey.id, at: T0.toISOString() }]);
    for (const step of [1000, 29_000, 30_000]) {
      s.clock.advance(step);
      await s.service.authenticate(key);
    }
    // A minute after the touch, from memory: the grant it holds says it was used at T0.
    expect(s.apiKeys.touchCalls).toHaveLength(1);
    s.clock.advance(1);
    await s.service.authenticate(key);
    const touchedAt = new Date(T0.getTime() + 60_001).toISOString();
    expect(s.apiKeys.touchCalls).toEqual([
      { keyId: apiKey.id, at: T0.toISOString() },
      { keyId: apiKey.id, at: touchedAt },
    ]);
    // The cached grant now says touchedAt: the next requests within a minute of it touch nothing.
    s.clock.advance(59_999);
    await s.service.authenticate(key);
    expect(s.apiKeys.touchCalls).toHaveLength(2);
    expect(s.findGrant).toHaveBeenCalledTimes(1);
  });

  test('a grant stored with a recent lastUsedAt is not touched again', async () => {
    const s = setup();
    const key = generateApiKey();
    const apiKey: ApiKey = {
      id: 'key_01JN0000000000000000000USED',
      tenantId: 'ten_A',
      name: 'used',
      scopes: ['ingest'],
      last4: key.slice(-4),
      createdAt: T0.toISOString(),
    };
    await s.apiKeys.create(apiKey, hashKey(key), key);
    const grant = s.apiKeys.grants.get(hashKey(key)) as KeyGrant;
    s.apiKeys.grants.set(hashKey(key), { ...grant, lastUsedAt: new Date(T0.getTime() - 59_000).toISOString() });
    await s.service.authenticate(key);
    expect(s.apiKeys.touchCalls).toEqual([]);
    s.clock.advance(1001);
    // From memory, with the stored lastUsedAt: now more than a minute ago.
    await s.service.authenticate(key);
    expect(s.apiKeys.touchCalls).toEqual([{ keyId: apiKey.id, at: new Date(T0.getTime() + 1001).toISOString() }]);
    expect(s.findGrant).toHaveBeenCalledTimes(1);
  });
});

/** A route's gate as the edge passes it: a POST, so no portal capability is implied by the method. */
const gate = (access: Exclude<RouteAccess, 'public'>, extra: Partial<RouteGate> = {}): RouteGate => ({ method: 'POST', access, ...extra });

describe('authorize', () => {
  const tenantRoutes: readonly (readonly Scope[])[] = [['admin'], ['ingest'], ['inbound'], ['receiver'], ['receiver', 'admin']];

  test('an admin key passes every tenant route', () => {
    const admin = tenant(['admin']);
    for (const access of tenantRoutes) expect(authorize(admin, gate(access))).toBe(admin);
  });

  test('a key passes a route that allows one of its scopes', () => {
    const key = tenant(['ingest', 'receiver']);
    expect(authorize(key, gate(['ingest']))).toBe(key);
    expect(authorize(key, gate(['receiver', 'admin']))).toBe(key);
  });

  test('an ingest key is refused on admin routes with ForbiddenScopeError', () => {
    const ingest = tenant(['ingest']);
    expect(() => authorize(ingest, gate(['admin']))).toThrow(ForbiddenScopeError);
    expect(() => authorize(ingest, gate(['inbound']))).toThrow(ForbiddenScopeError);
    expect(() => authorize(ingest, gate(['admin']))).toThrow(/'admin'/);
  });

  test('a key with no scopes is refused everywhere', () => {
    for (const access of tenantRoutes) expect(() => authorize(tenant([]), gate(access))).toThrow(ForbiddenScopeError);
  });

  test('the root key passes root routes only', () => {
    const root: Principal = { kind: 'root' };
    expect(authorize(root, gate('root'))).toBe(root);
    for (const access of tenantRoutes) expect(() => authorize(root, gate(access))).toThrow(ForbiddenScopeError);
  });

  test('tenant keys, even admin ones, are refused on root routes', () => {
    const access: RouteAccess = 'root';
    expect(() => authorize(tenant(['admin']), gate(access))).toThrow(ForbiddenScopeError);
  });

  test('asTenant narrows to the tenant principal or refuses the root key', () => {
    const admin = tenant(['admin']);
    expect(asTenant(admin)).toBe(admin);
    expect(() => asTenant({ kind: 'root' })).toThrow(ForbiddenScopeError);
  });
});
