import { retryDelivery } from './lib/api/recovery-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(retryDelivery, async ({ app, principal, params }) => {
  const delivery = await app.recovery.retry(asTenant(principal).tenantId, params.id);
  return { status: 202, body: { deliveryId: delivery.id, queued: true } };
});
