import { deleteEventType } from './lib/api/catalog-routes.ts';
import { eventTypeRegistry } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(deleteEventType, eventTypeRegistry, async ({ service, tenantId, params }) => {
  await service.delete(tenantId, params.name);
  return { status: 204 };
});
