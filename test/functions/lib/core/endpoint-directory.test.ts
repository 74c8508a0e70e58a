import { DEFAULT_CACHE_SECONDS } from '../../../../functions/lib/core/cache.ts';
import { EndpointDirectory } from '../../../../functions/lib/core/endpoint-directory.ts';
import { anEndpoint, deferred, FakeClock, InMemoryEndpointStore, T0, TENANT } from './fakes.ts';

const OTHER = 'ten_01JN00000000000000000OTHER';
const one = anEndpoint({ id: 'ep_ONE' });
const two = anEndpoint({ id: 'ep_TWO', eventTypes: ['lock.locked'] });
const theirs = anEndpoint({ id: 'ep_THEIRS', tenantId: OTHER });

function setup(ttlSeconds?: number) {
  const store = new InMemoryEndpointStore([one, two, theirs]);
  const clock = new FakeClock(T0);
  const directory = ttlSeconds === undefined ? new EndpointDirectory(store, clock) : new EndpointDirectory(store, clock, ttlSeconds);
  const listAll = jest.spyOn(store, 'listAll');
  const get = jest.spyOn(store, 'get');
  return { store, clock, directory, listAll, get };
}

describe('EndpointDirectory', () => {
  test("all() is the tenant's endpoints, and only theirs", async () => {
    const s = setup();
    expect(await s.directory.all(TENANT)).toEqual([one, two]);
    expect(await s.directory.all(OTHER)).toEqual([theirs]);
    expect(await s.directory.all('ten_NONE')).toEqual([]);
  });

  test('within the ttl the list comes from the cache: one read, changes in the store not seen yet', async () => {
    const s = setup(5);
    await s.directory.all(TENANT);
    await s.store.create(anEndpoint({ id: 'ep_NEW' }));
    await s.store.update({ ...one, url: 'https://changed.example.com/' });
    s.clock.advance(4_999);
    expect(await s.directory.all(TENANT)).toEqual([one, two]);
    expect(await s.directory.cached(TENANT, one.id)).toEqual(one);
    expect(await s.directory.cached(TENANT, 'ep_NEW')).toBeUndefined();
    expect(s.listAll).toHaveBeenCalledTimes(1);
  });

  test('after the ttl the store is read again', async () => {
    const s = setup(5);
    await s.directory.all(TENANT);
    const added = anEndpoint({ id: 'ep_NEW' });
    await s.store.create(added);
    s.clock.advance(5_000);
    expect(await s.directory.all(TENANT)).toEqual([one, two, added]);
    expect(s.listAll).toHaveBeenCalledTimes(2);
  });

  test('the ttl defaults to DEFAULT_CACHE_SECONDS', async () => {
    const s = setup();
    await s.directory.all(TENANT);
    s.clock.advance(DEFAULT_CACHE_SECONDS * 1000 - 1);
    await s.directory.all(TENANT);
    expect(s.listAll).toHaveBeenCalledTimes(1);
    s.clock.advance(1);
    await s.directory.all(TENANT);
    expect(s.listAll).toHaveBeenCalledTimes(2);
  });

  test('each tenant is cached apart', async () => {
    const s = setup(5);
    await s.directory.all(TENANT);
    await s.directory.all(OTHER);
    await s.directory.all(TENANT);
    await s.directory.all(OTHER);
    expect(s.listAll.mock.calls).toEqual([[TENANT], [OTHER]]);
  });

  test("cached() finds one endpoint in the tenant's cached list, without another read", async () => {
    const s = setup(5);
    expect(await s.directory.cached(TENANT, two.id)).toEqual(two);
    expect(await s.directory.cached(TENANT, one.id)).toEqual(one);
    // Another tenant's endpoint is not found through this tenant.
    expect(await s.directory.cached(TENANT, theirs.id)).toBeUndefined();
    expect(await s.directory.cached(TENANT, 'ep_NONE')).toBeUndefined();
    expect(s.listAll).toHaveBeenCalledTimes(1);
    expect(s.get).not.toHaveBeenCalled();
  });

  test("invalidate(tenant) makes the next read go to the store; other tenants' copies are kept", async () => {
    const s = setup(5);
    await s.directory.all(TENANT);
    await s.directory.all(OTHER);
    await s.store.disable(TENANT, one.id, 'by hand', T0.toISOString());
    s.directory.invalidate(TENANT);
    expect((await s.directory.cached(TENANT, one.id))?.disabled).toBe(true);
    await s.directory.all(OTHER);
    expect(s.listAll.mock.calls).toEqual([[TENANT], [OTHER], [TENANT]]);
  });

  test('a read in flight when the tenant is invalidated does not leave its stale list behind', async () => {
    const s = setup(5);
    const release = deferred<void>();
    const original = s.store.listAll.bind(s.store);
    s.listAll.mockImplementationOnce(async (tenantId) => {
      const list = await original(tenantId);
      await release.promise;
      return list;
    });
    const stale = s.directory.all(TENANT);
    // Meanwhile this process changes an endpoint and invalidates.
    const updated = { ...one, url: 'https://changed.example.com/' };
    await s.store.update(updated);
    s.directory.invalidate(TENANT);
    release.resolve();
    expect(await stale).toEqual([one, two]);
    expect(await s.directory.all(TENANT)).toEqual([updated, two]);
  });

  test('concurrent reads of a tenant share one read of the store', async () => {
    const s = setup(5);
    const [a, b, c] = await Promise.all([s.directory.all(TENANT), s.directory.cached(TENANT, one.id), s.directory.all(TENANT)]);
    expect(a).toEqual([one, two]);
    expect(b).toEqual(one);
    expect(c).toEqual([one, two]);
    expect(s.listAll).toHaveBeenCalledTimes(1);
  });

  test('fresh() reads the store every time, and sees a change at once', async () => {
    const s = setup(5);
    await s.directory.all(TENANT);
    await s.store.disable(TENANT, one.id, 'by hand', T0.toISOString());
    await s.store.delete(TENANT, two.id);
    s.get.mockClear();
    expect((await s.directory.fresh(TENANT, one.id))?.disabled).toBe(true);
    // The cached copies are still the old ones.
    expect((await s.directory.cached(TENANT, one.id))?.disabled).toBe(false);
    expect(await s.directory.cached(TENANT, two.id)).toEqual(two);
    expect(await s.directory.fresh(TENANT, two.id)).toBeUndefined();
    expect(await s.directory.fresh(TENANT, theirs.id)).toBeUndefined();
    expect(s.get).toHaveBeenCalledTimes(3);
    expect(s.listAll).toHaveBeenCalledTimes(1);
  });

  test('ttl 0: every read goes to the store', async () => {
    const s = setup(0);
    await s.directory.all(TENANT);
    await s.directory.cached(TENANT, one.id);
    await s.directory.all(TENANT);
    expect(s.listAll).toHaveBeenCalledTimes(3);
  });
});
