import { AccessService, hashKey } from '../../../../functions/lib/core/access.ts';
import { NotFoundError } from '../../../../functions/lib/core/errors.ts';
import { ulidIdGenerator } from '../../../../functions/lib/core/ids.ts';
import { TenantDirectory, TenantService } from '../../../../functions/lib/core/tenants.ts';
import { FakeClock, InMemoryApiKeyStore, InMemoryTenantStore, T0 } from './fakes.ts';

function setup() {
  const clock = new FakeClock(T0);
  const ids = ulidIdGenerator(() => clock.now().getTime());
  const store = new InMemoryTenantStore();
  const apiKeys = new InMemoryApiKeyStore();
  const access = new AccessService({ apiKeys, rootKey: { hashes: async () => [hashKey('sk_root')] }, clock, ids });
  const directory = new TenantDirectory(store, clock, 5);
  const service = new TenantService({ tenants: store, access, clock, ids, directory });
  return { clock, store, apiKeys, directory, service };
}

describe('TenantService', () => {
  test('create: a tenant with one admin key; ingestPerSecond only when given', async () => {
    const s = setup();
    const { tenant, apiKey } = await s.service.create('Lockly AB');
    expect(tenant).toEqual({ id: expect.stringMatching(/^ten_/), name: 'Lockly AB', createdAt: T0.toISOString() });
    expect(apiKey).toMatch(/^sk_/);
    expect([...s.apiKeys.keys.values()].map((k) => [k.tenantId, k.scopes])).toEqual([[tenant.id, ['admin']]]);
    const big = await s.service.create('Big AB', { ingestPerSecond: 5000 });
    expect(s.store.tenants.get(big.tenant.id)?.ingestPerSecond).toBe(5000);
  });

  test('update: a present field replaces, null restores the default, an absent one stays', async () => {
    const s = setup();
    const { tenant } = await s.service.create('Lockly AB', { ingestPerSecond: 10 });
    expect(await s.service.update(tenant.id, { name: 'Lockly' })).toEqual({ ...tenant, name: 'Lockly' });
    expect(await s.service.update(tenant.id, { ingestPerSecond: 0 })).toEqual({ ...tenant, name: 'Lockly', ingestPerSecond: 0 });
    const restored = await s.service.update(tenant.id, { ingestPerSecond: null });
    expect(restored).toEqual({ id: tenant.id, name: 'Lockly', createdAt: tenant.createdAt });
    expect(s.store.tenants.get(tenant.id)).toEqual(restored);
  });

  test('update: the directory forgets the tenant, so this process sees the new rate at once', async () => {
    const s = setup();
    const { tenant } = await s.service.create('Lockly AB', { ingestPerSecond: 10 });
    expect((await s.directory.get(tenant.id))?.ingestPerSecond).toBe(10);
    await s.service.update(tenant.id, { ingestPerSecond: 20 });
    expect((await s.directory.get(tenant.id))?.ingestPerSecond).toBe(20);
  });

  test('update: an unknown tenant is NotFoundError', async () => {
    const s = setup();
    await expect(s.service.update('ten_nope', { name: 'x' })).rejects.toBeInstanceOf(NotFoundError);
  });
});
