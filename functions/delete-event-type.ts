import { deleteEventType } from './lib/api/catalog-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(deleteEventType, async ({ app, principal, params }) => {
  await app.eventTypes.delete(asTenant(principal).tenantId, params.name);
  return { status: 204 };
});
