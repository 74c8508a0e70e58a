import { deleteApiKey } from './lib/api/access-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(deleteApiKey, async ({ app, principal, params }) => {
  await app.apiKeys.revoke(asTenant(principal).tenantId, params.id);
  return { status: 204 };
});
