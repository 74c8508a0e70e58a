import { getEndpointStats } from './lib/api/message-routes.ts';
import { createdWindowOf } from './lib/api/route-spec.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getEndpointStats, async ({ app, principal, params, query }) => {
  const { bucket, ...window } = query;
  const stats = await app.endpointStats.stats(asTenant(principal).tenantId, params.id, { ...createdWindowOf(window), bucket });
  return { status: 200, body: stats };
});
