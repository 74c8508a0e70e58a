import { eventTypeView, getEventType } from './lib/api/catalog-routes.ts';
import { eventTypeRegistry } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getEventType, eventTypeRegistry, async ({ service, tenantId, params }) => ({
  status: 200,
  body: eventTypeView(await service.get(tenantId, params.name)),
}));
