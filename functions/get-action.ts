import { actionView, getAction } from './lib/api/action-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getAction, async ({ app, principal, params }) => ({
  status: 200,
  body: actionView(await app.actions.get(asTenant(principal).tenantId, params.id)),
}));
