import { deliveryView, listMessageDeliveries } from './lib/api/message-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listMessageDeliveries, async ({ app, principal, params, query }) => ({
  status: 200,
  body: page(await app.history.messageDeliveries(asTenant(principal).tenantId, params.id, query), deliveryView),
}));
