import type { Clock } from './clock.ts';
import type { IngestBudget } from './ports.ts';

/** Messages a second one tenant may post before it gets 429 (docs/decisions.md, "Noisy tenants"). */
export const DEFAULT_TENANT_INGEST_PER_SECOND = 500;

/**
 * A token bucket per tenant, refilled at `perSecond` up to `burst`. It lives in the process that
 * serves ingest: exact on the local stack, per function instance in AWS (see the README's notes
 * on isolation). Buckets of tenants gone quiet are dropped once there are too many.
 */
export class TokenBucketBudget implements IngestBudget {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly perSecond: number,
    private readonly burst = perSecond * 2,
    private readonly maxTenants = 10_000,
  ) {}

  take(tenantId: string): { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number } {
    const now = this.clock.now().getTime();
    const bucket = this.buckets.get(tenantId) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    this.buckets.delete(tenantId);
    this.buckets.set(tenantId, bucket);
    if (this.buckets.size > this.maxTenants) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: (1 - bucket.tokens) / this.perSecond };
  }
}
