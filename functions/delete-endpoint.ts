import { deleteEndpoint } from './lib/api/catalog-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(deleteEndpoint, async ({ app, principal, params }) => {
  await app.endpoints.delete(asTenant(principal).tenantId, params.id);
  return { status: 204 };
});
