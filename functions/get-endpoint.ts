import { endpointView, getEndpoint } from './lib/api/catalog-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getEndpoint, async ({ app, principal, params }) => ({
  status: 200,
  body: endpointView(await app.endpoints.get(asTenant(principal).tenantId, params.id)),
}));
