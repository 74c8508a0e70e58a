import { inboxEntryView, listInbox } from './lib/api/inbox-routes.ts';
import { createdWindowOf } from './lib/api/route-spec.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listInbox, async ({ app, principal, query }) => {
  const { endpointId, status, after, before, ...pageRequest } = query;
  const filter = { ...createdWindowOf({ after, before }), status };
  return { status: 200, body: page(await app.inbox.list(asTenant(principal).tenantId, endpointId, filter, pageRequest), inboxEntryView) };
});
