import { DEFAULT_TENANT_INGEST_PER_SECOND, TenantIngestBudgets, TokenBucketBudget } from '../../../../functions/lib/core/ingest-budget.ts';
import { TenantDirectory } from '../../../../functions/lib/core/tenants.ts';
import { FakeClock, InMemoryTenantStore, T0 } from './fakes.ts';

const A = 'ten_A';
const B = 'ten_B';

/** Takes `n` times for the tenant at `perSecond`; returns how many were allowed. */
function takeMany(budget: TokenBucketBudget, tenantId: string, n: number, perSecond: number): number {
  let allowed = 0;
  for (let i = 0; i < n; i++) if (budget.take(tenantId, perSecond).ok) allowed++;
  return allowed;
}

describe('TokenBucketBudget', () => {
  test('the default is 100 messages a second per tenant', () => {
    expect(DEFAULT_TENANT_INGEST_PER_SECOND).toBe(100);
  });

  test("a burst of one second's worth is allowed at once; then it is refused", () => {
    const budget = new TokenBucketBudget(new FakeClock(T0));
    expect(takeMany(budget, A, 10, 5)).toBe(5);
    expect(budget.take(A, 5)).toEqual({ ok: false, retryAfterSeconds: 0.2 });
  });

  test('tokens come back at the rate, by the clock', () => {
    const clock = new FakeClock(T0);
    const budget = new TokenBucketBudget(clock);
    takeMany(budget, A, 10, 10);
    clock.advance(99);
    expect(budget.take(A, 10).ok).toBe(false);
    clock.advance(1);
    // 100 ms at 10 a second: one token.
    expect(budget.take(A, 10)).toEqual({ ok: true });
    expect(budget.take(A, 10).ok).toBe(false);
    clock.advance(500);
    expect(takeMany(budget, A, 10, 10)).toBe(5);
  });

  test('a refused take costs nothing: a tenant that keeps trying is not pushed further back', () => {
    const clock = new FakeClock(T0);
    const budget = new TokenBucketBudget(clock);
    takeMany(budget, A, 10, 5);
    expect(takeMany(budget, A, 100, 5)).toBe(0);
    clock.advance(200);
    expect(budget.take(A, 5).ok).toBe(true);
  });

  test('the bucket fills up to the burst and no further, however long the tenant was quiet', () => {
    const clock = new FakeClock(T0);
    const budget = new TokenBucketBudget(clock);
    budget.take(A, 10);
    clock.advance(3_600_000);
    expect(takeMany(budget, A, 100, 10)).toBe(10);
  });

  test('retryAfterSeconds is how long until one token is back', () => {
    const clock = new FakeClock(T0);
    const budget = new TokenBucketBudget(clock);
    expect(budget.take(A, 1).ok).toBe(true);
    expect(budget.take(A, 1)).toEqual({ ok: false, retryAfterSeconds: 1 });
    clock.advance(500);
    // Half a token back: half the wait left.
    const answer = budget.take(A, 1);
    expect(answer.ok).toBe(false);
    if (answer.ok) throw new Error('expected a refusal');
    expect(answer.retryAfterSeconds).toBeCloseTo(0.5, 10);
    clock.advance(500);
    expect(budget.take(A, 1).ok).toBe(true);
  });

  test('a slow rate: one message at a time, and the wait is seconds', () => {
    const budget = new TokenBucketBudget(new FakeClock(T0));
    expect(budget.take(A, 0.5).ok).toBe(true);
    expect(budget.take(A, 0.5)).toEqual({ ok: false, retryAfterSeconds: 2 });
  });

  test('a lowered rate applies at once: the bucket is cut to the new burst', () => {
    const budget = new TokenBucketBudget(new FakeClock(T0));
    expect(budget.take(A, 100).ok).toBe(true);
    expect(takeMany(budget, A, 100, 3)).toBe(3);
  });

  test('tenants are independent: one tenant spending its budget leaves the others theirs', () => {
    const clock = new FakeClock(T0);
    const budget = new TokenBucketBudget(clock);
    expect(takeMany(budget, A, 50, 10)).toBe(10);
    expect(takeMany(budget, B, 50, 10)).toBe(10);
    clock.advance(100);
    expect(takeMany(budget, A, 5, 10)).toBe(1);
    expect(takeMany(budget, B, 5, 10)).toBe(1);
  });

  test('at most maxTenants buckets: the least recently seen tenant is dropped (and starts again full)', () => {
    const budget = new TokenBucketBudget(new FakeClock(T0), 2);
    expect(takeMany(budget, A, 5, 2)).toBe(2);
    expect(takeMany(budget, B, 5, 2)).toBe(2);
    // A third tenant: A's bucket, the oldest, goes.
    budget.take('ten_C', 2);
    expect(takeMany(budget, A, 5, 2)).toBe(2);
  });

  test('a tenant that keeps posting keeps its bucket: only quiet tenants are dropped', () => {
    const budget = new TokenBucketBudget(new FakeClock(T0), 2);
    expect(takeMany(budget, A, 2, 2)).toBe(2);
    budget.take(B, 2);
    // A posts again (refused): it is now the most recently seen, so C's arrival drops B.
    expect(budget.take(A, 2).ok).toBe(false);
    budget.take('ten_C', 2);
    expect(budget.take(A, 2).ok).toBe(false);
    expect(takeMany(budget, B, 5, 2)).toBe(2);
  });
});

describe('TenantIngestBudgets', () => {
  function setup(defaultPerSecond: number, tenants: { id: string; ingestPerSecond?: number }[] = []) {
    const clock = new FakeClock(T0);
    const store = new InMemoryTenantStore(tenants.map((t) => ({ name: t.id, createdAt: T0.toISOString(), ...t })));
    const directory = new TenantDirectory(store, clock, 5);
    const budgets = new TenantIngestBudgets(directory, new TokenBucketBudget(clock), defaultPerSecond);
    const takeMany = async (tenantId: string, n: number) => {
      let allowed = 0;
      for (let i = 0; i < n; i++) if ((await budgets.take(tenantId)).ok) allowed++;
      return allowed;
    };
    return { clock, store, directory, budgets, takeMany };
  }

  test("a tenant without its own rate posts at the deployment's default", async () => {
    const s = setup(3, [{ id: A }]);
    expect(await s.takeMany(A, 10)).toBe(3);
  });

  test('a tenant with its own rate posts at that rate, whatever the default', async () => {
    const s = setup(3, [{ id: A, ingestPerSecond: 7 }, { id: B }]);
    expect(await s.takeMany(A, 20)).toBe(7);
    expect(await s.takeMany(B, 20)).toBe(3);
  });

  test('0 means no limit: as a tenant\u2019s own rate, and as the default', async () => {
    const own = setup(3, [{ id: A, ingestPerSecond: 0 }]);
    expect(await own.takeMany(A, 1000)).toBe(1000);
    const byDefault = setup(0, [{ id: A }]);
    expect(await byDefault.takeMany(A, 1000)).toBe(1000);
  });

  test('the tenant is read once per cache period, not per message', async () => {
    const s = setup(100, [{ id: A }]);
    await s.takeMany(A, 50);
    expect(s.store.getCalls).toBe(1);
    s.clock.advance(5001);
    await s.takeMany(A, 1);
    expect(s.store.getCalls).toBe(2);
  });
});
