import { deleteEndpoint } from './lib/api/catalog-routes.ts';
import { endpoints } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(deleteEndpoint, endpoints, async ({ service, tenantId, params }) => {
  await service.delete(tenantId, params.id);
  return { status: 204 };
});
