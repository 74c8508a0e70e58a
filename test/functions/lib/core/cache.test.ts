import { DEFAULT_CACHE_SECONDS, TtlCache } from '../../../../functions/lib/core/cache.ts';
import { deferred, FakeClock, T0 } from './fakes.ts';

/** A loader that counts its calls and answers `value-<n>` for its n-th call. */
function counter() {
  let calls = 0;
  const load = jest.fn(async () => `value-${++calls}`);
  return load;
}

describe('TtlCache', () => {
  test('the default is five seconds', () => {
    expect(DEFAULT_CACHE_SECONDS).toBe(5);
  });

  test('an entry lives ttlMs by the clock, then is gone', () => {
    const clock = new FakeClock(T0);
    const cache = new TtlCache<string>(clock, 1000);
    expect(cache.ttlMs).toBe(1000);
    expect(cache.get('a')).toBeUndefined();
    cache.set('a', 'A');
    expect(cache.get('a')).toBe('A');
    clock.advance(999);
    expect(cache.get('a')).toBe('A');
    clock.advance(1);
    expect(cache.get('a')).toBeUndefined();
    // Gone for good, even if the clock went back.
    clock.set(T0);
    expect(cache.get('a')).toBeUndefined();
  });

  test('setting a key again starts its time anew', () => {
    const clock = new FakeClock(T0);
    const cache = new TtlCache<string>(clock, 1000);
    cache.set('a', 'A1');
    clock.advance(800);
    cache.set('a', 'A2');
    clock.advance(800);
    expect(cache.get('a')).toBe('A2');
  });

  test('getOrLoad loads on a miss, answers from the cache within ttl, and loads again after it', async () => {
    const clock = new FakeClock(T0);
    const cache = new TtlCache<string>(clock, 1000);
    const load = counter();
    expect(await cache.getOrLoad('a', load)).toBe('value-1');
    clock.advance(999);
    expect(await cache.getOrLoad('a', load)).toBe('value-1');
    expect(load).toHaveBeenCalledTimes(1);
    clock.advance(1);
    expect(await cache.getOrLoad('a', load)).toBe('value-2');
    expect(load).toHaveBeenCalledTimes(2);
    expect(cache.get('a')).toBe('value-2');
  });

  test('keys are cached apart', async () => {
    const cache = new TtlCache<string>(new FakeClock(T0), 1000);
    expect(await cache.getOrLoad('a', async () => 'A')).toBe('A');
    expect(await cache.getOrLoad('b', async () => 'B')).toBe('B');
    expect(cache.get('a')).toBe('A');
    expect(cache.get('b')).toBe('B');
  });

  test('at most maxEntries: the oldest entry goes first', () => {
    const cache = new TtlCache<string>(new FakeClock(T0), 60_000, 2);
    cache.set('a', 'A');
    cache.set('b', 'B');
    cache.set('c', 'C');
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBe('B');
    expect(cache.get('c')).toBe('C');
  });

  test('an entry set again counts as the newest', () => {
    const cache = new TtlCache<string>(new FakeClock(T0), 60_000, 2);
    cache.set('a', 'A');
    cache.set('b', 'B');
    cache.set('a', 'A2');
    cache.set('c', 'C');
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe('A2');
    expect(cache.get('c')).toBe('C');
  });

  test('a loaded value counts against maxEntries too', async () => {
    const cache = new TtlCache<string>(new FakeClock(T0), 60_000, 1);
    await cache.getOrLoad('a', async () => 'A');
    await cache.getOrLoad('b', async () => 'B');
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBe('B');
  });

  test('concurrent misses for one key share one load', async () => {
    const cache = new TtlCache<string>(new FakeClock(T0), 1000);
    const pending = deferred<string>();
    const load = jest.fn(() => pending.promise);
    const first = cache.getOrLoad('a', load);
    const second = cache.getOrLoad('a', load);
    const third = cache.getOrLoad('a', load);
    pending.resolve('A');
    expect(await Promise.all([first, second, third])).toEqual(['A', 'A', 'A']);
    expect(load).toHaveBeenCalledTimes(1);
    expect(cache.get('a')).toBe('A');
  });

  test('concurrent misses for different keys load separately', async () => {
    const cache = new TtlCache<string>(new FakeClock(T0), 1000);
    const load = counter();
    const [a, b] = await Promise.all([cache.getOrLoad('a', load), cache.getOrLoad('b', load)]);
    expect(new Set([a, b]).size).toBe(2);
    expect(load).toHaveBeenCalledTimes(2);
  });

  test('a failed load fails every caller waiting on it, is not cached, and the next call loads again', async () => {
    const cache = new TtlCache<string>(new FakeClock(T0), 1000);
    const failing = jest.fn(async (): Promise<string> => {
      throw new Error('store unreachable');
    });
    const results = await Promise.allSettled([cache.getOrLoad('a', failing), cache.getOrLoad('a', failing)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(failing).toHaveBeenCalledTimes(1);
    expect(cache.get('a')).toBeUndefined();
    expect(await cache.getOrLoad('a', async () => 'A')).toBe('A');
  });

  test('invalidate drops an entry: the next read loads again', async () => {
    const cache = new TtlCache<string>(new FakeClock(T0), 60_000);
    const load = counter();
    await cache.getOrLoad('a', load);
    await cache.getOrLoad('b', load);
    cache.invalidate('a');
    expect(cache.get('a')).toBeUndefined();
    expect(await cache.getOrLoad('a', load)).toBe('value-3');
    // Other keys are kept.
    expect(cache.get('b')).toBe('value-2');
    expect(load).toHaveBeenCalledTimes(3);
  });

  test('invalidate during a load: that load answers its callers but is not kept, and later reads load afresh', async () => {
    const cache = new TtlCache<string>(new FakeClock(T0), 60_000);
    const stale = deferred<string>();
    const before = cache.getOrLoad('a', () => stale.promise);
    cache.invalidate('a');
    // A read after the change does not join the load that started before it.
    const fresh = deferred<string>();
    const after = cache.getOrLoad('a', () => fresh.promise);
    stale.resolve('old');
    expect(await before).toBe('old');
    expect(cache.get('a')).toBeUndefined();
    fresh.resolve('new');
    expect(await after).toBe('new');
    expect(cache.get('a')).toBe('new');
  });

  test('the load made after an invalidate is still shared once the stale one ends', async () => {
    const cache = new TtlCache<string>(new FakeClock(T0), 60_000);
    const stale = deferred<string>();
    const before = cache.getOrLoad('a', () => stale.promise);
    cache.invalidate('a');
    const fresh = deferred<string>();
    const load = jest.fn(() => fresh.promise);
    const after = cache.getOrLoad('a', load);
    stale.resolve('old');
    await before;
    // The stale load's end must not forget the newer one in flight.
    const joining = cache.getOrLoad('a', load);
    fresh.resolve('new');
    expect(await Promise.all([after, joining])).toEqual(['new', 'new']);
    expect(load).toHaveBeenCalledTimes(1);
  });

  test('an in-flight load finishing after invalidate stores nothing', async () => {
    const cache = new TtlCache<string>(new FakeClock(T0), 60_000);
    const stale = deferred<string>();
    const before = cache.getOrLoad('a', () => stale.promise);
    cache.invalidate('a');
    stale.resolve('old');
    expect(await before).toBe('old');
    expect(cache.get('a')).toBeUndefined();
    expect(await cache.getOrLoad('a', async () => 'new')).toBe('new');
  });

  test('a value cacheable says no to is returned but not kept', async () => {
    const cache = new TtlCache<string | null>(new FakeClock(T0), 60_000);
    const load = jest.fn(async (): Promise<string | null> => null);
    const found = (value: string | null) => value !== null;
    expect(await cache.getOrLoad('a', load, found)).toBeNull();
    expect(await cache.getOrLoad('a', load, found)).toBeNull();
    expect(load).toHaveBeenCalledTimes(2);
    expect(cache.get('a')).toBeUndefined();
    // Once there is a value, it is kept.
    expect(await cache.getOrLoad('a', async () => 'A', found)).toBe('A');
    expect(await cache.getOrLoad('a', load, found)).toBe('A');
    expect(load).toHaveBeenCalledTimes(2);
  });

  test.each([0, -1])('ttl %i never caches: every read loads, set keeps nothing', async (ttlMs) => {
    const cache = new TtlCache<string>(new FakeClock(T0), ttlMs);
    const load = counter();
    expect(await cache.getOrLoad('a', load)).toBe('value-1');
    expect(await cache.getOrLoad('a', load)).toBe('value-2');
    // Not even concurrent reads share a load.
    await Promise.all([cache.getOrLoad('a', load), cache.getOrLoad('a', load)]);
    expect(load).toHaveBeenCalledTimes(4);
    cache.set('a', 'A');
    expect(cache.get('a')).toBeUndefined();
  });
});
