import type { Clock } from './clock.ts';
import type { Allowance, IngestBudget } from './ports.ts';
import type { TenantDirectory } from './tenants.ts';

/**
 * Messages a second one tenant may post before it gets 429, unless its own `ingestPerSecond`
 * says otherwise (docs/decisions.md, "The hot path").
 */
export const DEFAULT_TENANT_INGEST_PER_SECOND = 100;

/**
 * A token bucket per tenant, refilled at the tenant's rate up to one second's worth (at least one
 * message, so a rate under 1 a second still lets a message through now and then). It lives in
 * the process that serves ingest: exact on the local stack, per function instance in AWS (see
 * the README's notes on isolation). Buckets of tenants gone quiet are dropped once there are too
 * many.
 */
export class TokenBucketBudget implements IngestBudget {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly maxTenants = 10_000,
  ) {}

  take(tenantId: string, perSecond: number): Allowance {
    const now = this.clock.now().getTime();
    const burst = Math.max(1, perSecond);
    const bucket = this.buckets.get(tenantId) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
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
    return { ok: false, retryAfterSeconds: (1 - bucket.tokens) / perSecond };
  }
}

/** The budget each tenant posts under: its own `ingestPerSecond`, or the deployment's default (0: no limit). */
export class TenantIngestBudgets {
  constructor(
    private readonly tenants: TenantDirectory,
    private readonly buckets: IngestBudget,
    private readonly defaultPerSecond: number,
  ) {}

  async take(tenantId: string): Promise<Allowance> {
    const perSecond = (await this.tenants.get(tenantId))?.ingestPerSecond ?? this.defaultPerSecond;
    return perSecond > 0 ? this.buckets.take(tenantId, perSecond) : { ok: true };
  }
}
