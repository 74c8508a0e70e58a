import { eventTypeView, listEventTypes } from './lib/api/catalog-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listEventTypes, async ({ app, principal, query }) => ({
  status: 200,
  body: page(await app.eventTypes.list(asTenant(principal).tenantId, query), eventTypeView),
}));
