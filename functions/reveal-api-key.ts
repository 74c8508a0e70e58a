import { apiKeyView, revealApiKey } from './lib/api/access-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(revealApiKey, async ({ app, principal, params }) => {
  const { apiKey, key } = await app.apiKeys.reveal(asTenant(principal).tenantId, params.id);
  return { status: 200, body: apiKeyView(apiKey, key) };
});
