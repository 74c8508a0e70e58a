import { DEFAULT_TENANT_INGEST_PER_SECOND, TokenBucketBudget } from '../../../../functions/lib/core/ingest-budget.ts';
import { FakeClock, T0 } from './fakes.ts';

const A = 'ten_A';
const B = 'ten_B';

/** Takes `n` times for the tenant; returns how many were allowed. */
function takeMany(budget: TokenBucketBudget, tenantId: string, n: number): number {
  let allowed = 0;
  for (let i = 0; i < n; i++) if (budget.take(tenantId).ok) allowed++;
  return allowed;
}

describe('TokenBucketBudget', () => {
  test('the default is 500 messages a second per tenant', () => {
    expect(DEFAULT_TENANT_INGEST_PER_SECOND).toBe(500);
  });

  test('a burst of twice the rate is allowed at once, by default; then it is refused', () => {
    const budget = new TokenBucketBudget(new FakeClock(T0), 5);
    expect(takeMany(budget, A, 10)).toBe(10);
    expect(budget.take(A)).toEqual({ ok: false, retryAfterSeconds: 0.2 });
  });

  test('an explicit burst', () => {
    const budget = new TokenBucketBudget(new FakeClock(T0), 5, 3);
    expect(takeMany(budget, A, 10)).toBe(3);
  });

  test('tokens come back at the rate, by the clock', () => {
    const clock = new FakeClock(T0);
    const budget = new TokenBucketBudget(clock, 5, 10);
    takeMany(budget, A, 10);
    clock.advance(199);
    expect(budget.take(A).ok).toBe(false);
    clock.advance(1);
    // 200 ms at 5 a second: one token.
    expect(budget.take(A)).toEqual({ ok: true });
    expect(budget.take(A).ok).toBe(false);
    clock.advance(1000);
    expect(takeMany(budget, A, 10)).toBe(5);
  });

  test('a refused take costs nothing: a tenant that keeps trying is not pushed further back', () => {
    const clock = new FakeClock(T0);
    const budget = new TokenBucketBudget(clock, 5, 10);
    takeMany(budget, A, 10);
    expect(takeMany(budget, A, 100)).toBe(0);
    clock.advance(200);
    expect(budget.take(A).ok).toBe(true);
  });

  test('the bucket fills up to the burst and no further, however long the tenant was quiet', () => {
    const clock = new FakeClock(T0);
    const budget = new TokenBucketBudget(clock, 5, 10);
    budget.take(A);
    clock.advance(3_600_000);
    expect(takeMany(budget, A, 100)).toBe(10);
  });

  test('retryAfterSeconds is how long until one token is back', () => {
    const clock = new FakeClock(T0);
    const budget = new TokenBucketBudget(clock, 4, 1);
    expect(budget.take(A).ok).toBe(true);
    expect(budget.take(A)).toEqual({ ok: false, retryAfterSeconds: 0.25 });
    clock.advance(125);
    // Half a token back: half the wait left.
    const answer = budget.take(A);
    expect(answer.ok).toBe(false);
    if (answer.ok) throw new Error('expected a refusal');
    expect(answer.retryAfterSeconds).toBeCloseTo(0.125, 10);
    clock.advance(125);
    expect(budget.take(A).ok).toBe(true);
  });

  test('a slow rate: the wait is seconds', () => {
    const budget = new TokenBucketBudget(new FakeClock(T0), 0.5, 1);
    budget.take(A);
    expect(budget.take(A)).toEqual({ ok: false, retryAfterSeconds: 2 });
  });

  test('tenants are independent: one tenant spending its budget leaves the others theirs', () => {
    const clock = new FakeClock(T0);
    const budget = new TokenBucketBudget(clock, 5, 10);
    expect(takeMany(budget, A, 50)).toBe(10);
    expect(takeMany(budget, B, 50)).toBe(10);
    clock.advance(200);
    expect(takeMany(budget, A, 5)).toBe(1);
    expect(takeMany(budget, B, 5)).toBe(1);
  });

  test('at most maxTenants buckets: the least recently seen tenant is dropped (and starts again full)', () => {
    const budget = new TokenBucketBudget(new FakeClock(T0), 1, 2, 2);
    expect(takeMany(budget, A, 5)).toBe(2);
    expect(takeMany(budget, B, 5)).toBe(2);
    // A third tenant: A's bucket, the oldest, goes.
    budget.take('ten_C');
    expect(takeMany(budget, A, 5)).toBe(2);
  });

  test('a tenant that keeps posting keeps its bucket: only quiet tenants are dropped', () => {
    const budget = new TokenBucketBudget(new FakeClock(T0), 1, 2, 2);
    expect(takeMany(budget, A, 2)).toBe(2);
    budget.take(B);
    // A posts again (refused): it is now the most recently seen, so C's arrival drops B.
    expect(budget.take(A).ok).toBe(false);
    budget.take('ten_C');
    expect(budget.take(A).ok).toBe(false);
    expect(takeMany(budget, B, 5)).toBe(2);
  });
});
