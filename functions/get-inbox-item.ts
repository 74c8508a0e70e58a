import { getInboxItem, inboxItemView } from './lib/api/inbox-routes.ts';
import { inbox } from './lib/container.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getInboxItem, inbox, async ({ service, principal, params }) => ({
  status: 200,
  body: inboxItemView(await service.fetch(asTenant(principal), params.id)),
}));
