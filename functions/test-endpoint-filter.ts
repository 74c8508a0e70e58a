import { testEndpointFilter } from './lib/api/filter-routes.ts';
import { endpoints } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(testEndpointFilter, endpoints, async ({ service, tenantId, params, body }) => ({
  status: 200,
  body: await service.testFilter(tenantId, params.id, {
    type: body.type,
    data: body.payload,
    ...(body.metadata && { metadata: body.metadata }),
  }),
}));
