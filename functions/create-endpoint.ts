import { createEndpoint, endpointView } from './lib/api/catalog-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(createEndpoint, async ({ app, principal, body }) => {
  const endpoint = await app.endpoints.create(asTenant(principal).tenantId, body);
  return { status: 201, body: { ...endpointView(endpoint), secret: endpoint.secrets[0]?.value } };
});
