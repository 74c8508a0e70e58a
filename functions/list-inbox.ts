import { inboxEntryView, listInbox } from './lib/api/inbox-routes.ts';
import { createdWindowOf } from './lib/api/route-spec.ts';
import { inbox } from './lib/container.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listInbox, inbox, async ({ service, tenantId, query }) => {
  const { endpointId, status, after, before, ...pageRequest } = query;
  const filter = { ...createdWindowOf({ after, before }), status };
  return { status: 200, body: page(await service.list(tenantId, endpointId, filter, pageRequest), inboxEntryView) };
});
