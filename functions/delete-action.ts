import { deleteAction } from './lib/api/action-routes.ts';
import { actions } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(deleteAction, actions, async ({ service, tenantId, params }) => {
  await service.delete(tenantId, params.id);
  return { status: 204 };
});
