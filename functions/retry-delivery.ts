import { retryDelivery } from './lib/api/recovery-routes.ts';
import { recovery } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(retryDelivery, recovery, async ({ service, tenantId, params }) => {
  const delivery = await service.retry(tenantId, params.id);
  return { status: 202, body: { deliveryId: delivery.id, queued: true } };
});
