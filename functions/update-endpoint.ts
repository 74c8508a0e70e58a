import { endpointView, updateEndpoint } from './lib/api/catalog-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(updateEndpoint, async ({ app, principal, params, body }) => ({
  status: 200,
  body: endpointView(await app.endpoints.update(asTenant(principal).tenantId, params.id, body)),
}));
