import { deliveryView } from './lib/api/message-routes.ts';
import { listDeadLetters } from './lib/api/recovery-routes.ts';
import { createdWindowOf } from './lib/api/route-spec.ts';
import { recovery } from './lib/container.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listDeadLetters, recovery, async ({ service, tenantId, query }) => {
  const { endpointId, after, before, ...pageRequest } = query;
  const filter = { ...createdWindowOf({ after, before }), ...(endpointId && { endpointId }) };
  return { status: 200, body: page(await service.deadLetters(tenantId, filter, pageRequest), deliveryView) };
});
