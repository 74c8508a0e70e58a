import { listMessages, messageView } from './lib/api/message-routes.ts';
import { createdWindowOf } from './lib/api/route-spec.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listMessages, async ({ app, principal, query }) => {
  const { type, after, before, ...pageRequest } = query;
  const filter = { ...createdWindowOf({ after, before }), ...(type && { type }) };
  return { status: 200, body: page(await app.messages.list(asTenant(principal).tenantId, filter, pageRequest), messageView) };
});
