import { apiKeyView, createApiKey } from './lib/api/access-routes.ts';
import { apiKeys } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(createApiKey, apiKeys, async ({ service, tenantId, body }) => {
  const { apiKey, key } = await service.create(tenantId, body.name, body.scopes);
  return { status: 201, body: apiKeyView(apiKey, key) };
});
