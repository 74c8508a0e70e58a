import { createEndpoint, endpointView } from './lib/api/catalog-routes.ts';
import { endpoints } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(createEndpoint, endpoints, async ({ service, tenantId, body }) => {
  const endpoint = await service.create(tenantId, body);
  return { status: 201, body: { ...endpointView(endpoint), secret: endpoint.secrets[0]?.value } };
});
