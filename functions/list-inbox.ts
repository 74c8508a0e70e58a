import { listInbox } from './lib/api/inbox-routes.ts';
import { deliveryView } from './lib/api/message-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listInbox, async ({ app, principal, query }) => {
  const { endpointId, status, ...pageRequest } = query;
  return { status: 200, body: page(await app.inbox.list(asTenant(principal).tenantId, endpointId, status, pageRequest), deliveryView) };
});
