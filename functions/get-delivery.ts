import { attemptView, deliveryEventView, deliveryView, getDelivery } from './lib/api/message-routes.ts';
import { history } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getDelivery, history, async ({ service, tenantId, params }) => {
  const { delivery, attempts, events } = await service.delivery(tenantId, params.id);
  return { status: 200, body: { ...deliveryView(delivery), attempts: attempts.map(attemptView), events: events.map(deliveryEventView) } };
});
