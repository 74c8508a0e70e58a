import { getMessage, messageView } from './lib/api/message-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getMessage, async ({ app, principal, params }) => ({
  status: 200,
  body: messageView(await app.messages.get(asTenant(principal).tenantId, params.id)),
}));
