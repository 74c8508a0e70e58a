import { actionView, listActions } from './lib/api/action-routes.ts';
import { actions } from './lib/container.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listActions, actions, async ({ service, tenantId, query }) => ({
  status: 200,
  body: page(await service.list(tenantId, query), actionView),
}));
