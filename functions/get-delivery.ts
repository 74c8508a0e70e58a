import { attemptView, deliveryEventView, deliveryView, getDelivery } from './lib/api/message-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getDelivery, async ({ app, principal, params }) => {
  const { delivery, attempts, events } = await app.history.delivery(asTenant(principal).tenantId, params.id);
  return { status: 200, body: { ...deliveryView(delivery), attempts: attempts.map(attemptView), events: events.map(deliveryEventView) } };
});
