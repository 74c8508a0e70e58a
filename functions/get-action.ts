import { actionView, getAction } from './lib/api/action-routes.ts';
import { actions } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getAction, actions, async ({ service, tenantId, params }) => ({
  status: 200,
  body: actionView(await service.get(tenantId, params.id)),
}));
