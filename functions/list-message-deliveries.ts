import { deliveryView, listMessageDeliveries } from './lib/api/message-routes.ts';
import { history } from './lib/container.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listMessageDeliveries, history, async ({ service, tenantId, params, query }) => ({
  status: 200,
  body: page(await service.messageDeliveries(tenantId, params.id, query), deliveryView),
}));
