import { eventTypeView, putEventType } from './lib/api/catalog-routes.ts';
import { eventTypes } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(putEventType, eventTypes, async ({ service, tenantId, params, body }) => {
  const { eventType, created } = await service.put(tenantId, params.name, body);
  return { status: created ? 201 : 200, body: eventTypeView(eventType) };
});
