import { DEFAULT_CACHE_SECONDS, TtlCache } from './cache.ts';
import type { Clock } from './clock.ts';
import type { Endpoint } from './model.ts';
import type { EndpointStore } from './ports.ts';

interface TenantEndpoints {
  readonly list: readonly Endpoint[];
  readonly byId: ReadonlyMap<string, Endpoint>;
}

/**
 * A tenant's endpoints as the hot path sees them: one read per tenant per `ttl` instead of one
 * per message. Routing a message (who is subscribed, which lane) and a first attempt (URL,
 * secrets, headers) may use a copy up to `ttl` old. Decisions that would strand a delivery if
 * wrong (pausing it for a disabled endpoint, closing it for a deleted one) re-read the endpoint.
 */
export class EndpointDirectory {
  private readonly cache: TtlCache<TenantEndpoints>;

  constructor(
    private readonly store: EndpointStore,
    clock: Clock,
    ttlSeconds = DEFAULT_CACHE_SECONDS,
  ) {
    this.cache = new TtlCache(clock, ttlSeconds * 1000, 1000);
  }

  private async tenant(tenantId: string): Promise<TenantEndpoints> {
    return this.cache.getOrLoad(tenantId, async () => {
      const list = await this.store.listAll(tenantId);
      return { list, byId: new Map(list.map((endpoint) => [endpoint.id, endpoint])) };
    });
  }

  /** Every endpoint of the tenant, as of at most the cache's age. */
  async all(tenantId: string): Promise<readonly Endpoint[]> {
    return (await this.tenant(tenantId)).list;
  }

  /** One endpoint from the tenant's cached list. */
  async cached(tenantId: string, id: string): Promise<Endpoint | undefined> {
    return (await this.tenant(tenantId)).byId.get(id);
  }

  /** A consistent read of one endpoint, for decisions a stale copy must not make. */
  fresh(tenantId: string, id: string): Promise<Endpoint | undefined> {
    return this.store.get(tenantId, id);
  }

  /** Called after every change to a tenant's endpoints made in this process. */
  invalidate(tenantId: string): void {
    this.cache.invalidate(tenantId);
  }
}
