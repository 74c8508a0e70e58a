import { deliveryView } from './lib/api/message-routes.ts';
import { listDeadLetters } from './lib/api/recovery-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listDeadLetters, async ({ app, principal, query }) => ({
  status: 200,
  body: page(await app.recovery.deadLetters(asTenant(principal).tenantId, query), deliveryView),
}));
