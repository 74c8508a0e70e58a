import { endpointView, listEndpoints } from './lib/api/catalog-routes.ts';
import { endpoints } from './lib/container.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listEndpoints, endpoints, async ({ service, tenantId, query }) => ({
  status: 200,
  body: page(await service.list(tenantId, query), endpointView),
}));
