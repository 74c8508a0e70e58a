import { endpointView, updateEndpoint } from './lib/api/catalog-routes.ts';
import { endpoints } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(updateEndpoint, endpoints, async ({ service, tenantId, params, body }) => ({
  status: 200,
  body: endpointView(await service.update(tenantId, params.id, body)),
}));
