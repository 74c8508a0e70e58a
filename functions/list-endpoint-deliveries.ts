import { deliveryView, listEndpointDeliveries } from './lib/api/message-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listEndpointDeliveries, async ({ app, principal, params, query }) => {
  const { status, ...pageRequest } = query;
  const result = await app.history.endpointDeliveries(asTenant(principal).tenantId, params.id, status ? { status } : {}, pageRequest);
  return { status: 200, body: page(result, deliveryView) };
});
