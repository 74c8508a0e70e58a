import { listActionTriggers, triggerView } from './lib/api/action-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listActionTriggers, async ({ app, principal, params, query }) => ({
  status: 200,
  body: page(await app.actions.triggers(asTenant(principal).tenantId, params.id, query), triggerView),
}));
