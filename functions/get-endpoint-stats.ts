import { getEndpointStats } from './lib/api/message-routes.ts';
import { createdWindowOf } from './lib/api/route-spec.ts';
import { endpointStats } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getEndpointStats, endpointStats, async ({ service, tenantId, params, query }) => {
  const { bucket, ...window } = query;
  const stats = await service.stats(tenantId, params.id, { ...createdWindowOf(window), bucket });
  return { status: 200, body: stats };
});
