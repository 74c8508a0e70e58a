import { ackInboxItem } from './lib/api/inbox-routes.ts';
import { inbox } from './lib/container.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(ackInboxItem, inbox, async ({ service, principal, params }) => {
  const { delivery, alreadyAcknowledged } = await service.acknowledge(asTenant(principal), params.id);
  return { status: 200, body: { deliveryId: delivery.id, status: 'acknowledged', alreadyAcknowledged } };
});
