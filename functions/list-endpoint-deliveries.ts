import { deliveryView, listEndpointDeliveries } from './lib/api/message-routes.ts';
import { createdWindowOf } from './lib/api/route-spec.ts';
import { history } from './lib/container.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listEndpointDeliveries, history, async ({ service, tenantId, params, query }) => {
  const { status, after, before, ...pageRequest } = query;
  const filter = { ...createdWindowOf({ after, before }), ...(status && { status }) };
  const result = await service.endpointDeliveries(tenantId, params.id, filter, pageRequest);
  return { status: 200, body: page(result, deliveryView) };
});
