import { getInboxItem, inboxItemView } from './lib/api/inbox-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getInboxItem, async ({ app, principal, params }) => ({
  status: 200,
  body: inboxItemView(await app.inbox.fetch(asTenant(principal), params.id)),
}));
