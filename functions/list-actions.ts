import { actionView, listActions } from './lib/api/action-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listActions, async ({ app, principal, query }) => ({
  status: 200,
  body: page(await app.actions.list(asTenant(principal).tenantId, query), actionView),
}));
