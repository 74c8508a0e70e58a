import { apiKeyView, revealApiKey } from './lib/api/access-routes.ts';
import { apiKeys } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(revealApiKey, apiKeys, async ({ service, tenantId, params }) => {
  const { apiKey, key } = await service.reveal(tenantId, params.id);
  return { status: 200, body: apiKeyView(apiKey, key) };
});
