import type { AccessService } from './access.ts';
import { DEFAULT_CACHE_SECONDS, TtlCache } from './cache.ts';
import type { Clock } from './clock.ts';
import { NotFoundError } from './errors.ts';
import type { IdGenerator } from './ids.ts';
import type { Page, PageRequest, Tenant } from './model.ts';
import type { TenantStore } from './ports.ts';

/** Tenants as ingest reads them (for their budget): one read per tenant per cache period. */
export class TenantDirectory {
  private readonly cache: TtlCache<Tenant | null>;

  constructor(
    private readonly store: TenantStore,
    clock: Clock,
    ttlSeconds = DEFAULT_CACHE_SECONDS,
  ) {
    this.cache = new TtlCache(clock, ttlSeconds * 1000);
  }

  async get(id: string): Promise<Tenant | undefined> {
    return (await this.cache.getOrLoad(id, async () => (await this.store.get(id)) ?? null)) ?? undefined;
  }

  invalidate(id: string): void {
    this.cache.invalidate(id);
  }
}

export interface TenantDeps {
  readonly tenants: TenantStore;
  readonly access: AccessService;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly directory: TenantDirectory;
}

export interface TenantSettings {
  /** Messages a second the tenant may post; 0 for no limit. */
  readonly ingestPerSecond?: number;
}

export class TenantService {
  constructor(private readonly deps: TenantDeps) {}

  /** A tenant is born with one `admin` key, shown once in the answer. */
  async create(name: string, settings: TenantSettings = {}): Promise<{ tenant: Tenant; apiKey: string }> {
    const tenant: Tenant = {
      id: this.deps.ids.next('tenant'),
      name,
      createdAt: this.deps.clock.now().toISOString(),
      ...(settings.ingestPerSecond !== undefined && { ingestPerSecond: settings.ingestPerSecond }),
    };
    await this.deps.tenants.create(tenant);
    const { key } = await this.deps.access.createKey(tenant.id, 'admin (created with the tenant)', ['admin']);
    return { tenant, apiKey: key };
  }

  list(page: PageRequest): Promise<Page<Tenant>> {
    return this.deps.tenants.list(page);
  }

  /** PATCH semantics: a present field replaces, `null` restores the default, an absent one stays. */
  async update(id: string, patch: { readonly name?: string; readonly ingestPerSecond?: number | null }): Promise<Tenant> {
    const current = await this.deps.tenants.get(id);
    if (!current) throw new NotFoundError('tenant', id);
    const { ingestPerSecond: _previous, ...rest } = current;
    const rate = patch.ingestPerSecond === undefined ? current.ingestPerSecond : (patch.ingestPerSecond ?? undefined);
    const next: Tenant = {
      ...rest,
      ...(patch.name !== undefined && { name: patch.name }),
      ...(rate !== undefined && { ingestPerSecond: rate }),
    };
    if (!(await this.deps.tenants.update(next))) throw new NotFoundError('tenant', id);
    this.deps.directory.invalidate(id);
    return next;
  }
}
