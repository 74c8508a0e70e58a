import { listActionTriggers, triggerView } from './lib/api/action-routes.ts';
import { actions } from './lib/container.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listActionTriggers, actions, async ({ service, tenantId, params, query }) => ({
  status: 200,
  body: page(await service.triggers(tenantId, params.id, query), triggerView),
}));
