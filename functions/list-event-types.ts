import { eventTypeView, listEventTypes } from './lib/api/catalog-routes.ts';
import { eventTypeRegistry } from './lib/container.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listEventTypes, eventTypeRegistry, async ({ service, tenantId, query }) => ({
  status: 200,
  body: page(await service.list(tenantId, query, { includeBuiltIn: query.builtIn === 'true' }), eventTypeView),
}));
