import { deleteAction } from './lib/api/action-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(deleteAction, async ({ app, principal, params }) => {
  await app.actions.delete(asTenant(principal).tenantId, params.id);
  return { status: 204 };
});
