import { endpointView, getEndpoint } from './lib/api/catalog-routes.ts';
import { endpoints } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getEndpoint, endpoints, async ({ service, tenantId, params }) => ({
  status: 200,
  body: endpointView(await service.get(tenantId, params.id)),
}));
