import type { AccessService } from './access.ts';
import { NotFoundError } from './errors.ts';
import type { ApiKey, Page, PageRequest, Scope } from './model.ts';
import type { ApiKeyStore } from './ports.ts';

export class ApiKeyService {
  constructor(
    private readonly access: AccessService,
    private readonly apiKeys: ApiKeyStore,
  ) {}

  create(tenantId: string, name: string, keyScopes: readonly Scope[]): Promise<{ apiKey: ApiKey; key: string }> {
    return this.access.createKey(tenantId, name, keyScopes);
  }

  list(tenantId: string, page: PageRequest): Promise<Page<ApiKey>> {
    return this.apiKeys.list(tenantId, page);
  }

  async revoke(tenantId: string, keyId: string): Promise<void> {
    const deleted = await this.apiKeys.delete(tenantId, keyId);
    this.access.forget(keyId);
    if (!deleted) throw new NotFoundError('api key', keyId);
  }

  async reveal(tenantId: string, keyId: string): Promise<{ apiKey: ApiKey; key: string }> {
    const apiKey = await this.apiKeys.get(tenantId, keyId);
    const key = apiKey && (await this.apiKeys.reveal(tenantId, keyId));
    if (!apiKey || !key) throw new NotFoundError('api key', keyId);
    return { apiKey, key };
  }
}
