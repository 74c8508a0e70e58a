import { listMessages, messageView } from './lib/api/message-routes.ts';
import { createdWindowOf } from './lib/api/route-spec.ts';
import { messageLog } from './lib/container.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listMessages, messageLog, async ({ service, tenantId, query }) => {
  const { type, after, before, ...pageRequest } = query;
  const filter = { ...createdWindowOf({ after, before }), ...(type && { type }) };
  return { status: 200, body: page(await service.list(tenantId, filter, pageRequest), (message) => messageView(message, service.now())) };
});
