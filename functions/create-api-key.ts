import { apiKeyView, createApiKey } from './lib/api/access-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(createApiKey, async ({ app, principal, body }) => {
  const { apiKey, key } = await app.apiKeys.create(asTenant(principal).tenantId, body.name, body.scopes);
  return { status: 201, body: apiKeyView(apiKey, key) };
});
