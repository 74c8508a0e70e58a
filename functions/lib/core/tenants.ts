import type { AccessService } from './access.ts';
import type { Clock } from './clock.ts';
import type { IdGenerator } from './ids.ts';
import type { Page, PageRequest, Tenant } from './model.ts';
import type { TenantStore } from './ports.ts';

export interface TenantDeps {
  readonly tenants: TenantStore;
  readonly access: AccessService;
  readonly clock: Clock;
  readonly ids: IdGenerator;
}

export class TenantService {
  constructor(private readonly deps: TenantDeps) {}

  /** A tenant is born with one `admin` key, shown once in the answer. */
  async create(name: string): Promise<{ tenant: Tenant; apiKey: string }> {
    const tenant: Tenant = { id: this.deps.ids.next('tenant'), name, createdAt: this.deps.clock.now().toISOString() };
    await this.deps.tenants.create(tenant);
    const { key } = await this.deps.access.createKey(tenant.id, 'admin (created with the tenant)', ['admin']);
    return { tenant, apiKey: key };
  }

  list(page: PageRequest): Promise<Page<Tenant>> {
    return this.deps.tenants.list(page);
  }
}
