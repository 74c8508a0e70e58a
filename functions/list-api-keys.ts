import { apiKeyView, listApiKeys } from './lib/api/access-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listApiKeys, async ({ app, principal, query }) => ({
  status: 200,
  body: page(await app.apiKeys.list(asTenant(principal).tenantId, query), (key) => apiKeyView(key)),
}));
