import { deliveryView } from './lib/api/message-routes.ts';
import { listDeadLetters } from './lib/api/recovery-routes.ts';
import { createdWindowOf } from './lib/api/route-spec.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listDeadLetters, async ({ app, principal, query }) => {
  const { endpointId, after, before, ...pageRequest } = query;
  const filter = { ...createdWindowOf({ after, before }), ...(endpointId && { endpointId }) };
  return { status: 200, body: page(await app.recovery.deadLetters(asTenant(principal).tenantId, filter, pageRequest), deliveryView) };
});
