import { getMessage, messageView } from './lib/api/message-routes.ts';
import { messageLog } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getMessage, messageLog, async ({ service, tenantId, params }) => ({
  status: 200,
  body: messageView(await service.get(tenantId, params.id), service.now()),
}));
