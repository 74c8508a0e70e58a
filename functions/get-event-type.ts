import { eventTypeView, getEventType } from './lib/api/catalog-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getEventType, async ({ app, principal, params }) => ({
  status: 200,
  body: eventTypeView(await app.eventTypes.get(asTenant(principal).tenantId, params.name)),
}));
