import './lib/schema/use-ajv.ts';
import { eventTypeView, putEventType } from './lib/api/catalog-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(putEventType, async ({ app, principal, params, body }) => {
  const { eventType, created } = await app.eventTypes.put(asTenant(principal).tenantId, params.name, body);
  return { status: created ? 201 : 200, body: eventTypeView(eventType) };
});
