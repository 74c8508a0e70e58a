import { listMessages, messageView } from './lib/api/message-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listMessages, async ({ app, principal, query }) => {
  const { type, ...pageRequest } = query;
  return { status: 200, body: page(await app.messages.list(asTenant(principal).tenantId, type ? { type } : {}, pageRequest), messageView) };
});
