import { apiKeyView, listApiKeys } from './lib/api/access-routes.ts';
import { apiKeys } from './lib/container.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listApiKeys, apiKeys, async ({ service, tenantId, query }) => ({
  status: 200,
  body: page(await service.list(tenantId, query), (key) => apiKeyView(key)),
}));
