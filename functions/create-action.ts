import { actionView, createAction } from './lib/api/action-routes.ts';
import { actions } from './lib/container.ts';
import type { ActionInput } from './lib/core/actions.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(createAction, actions, async ({ service, tenantId, body }) => ({
  status: 201,
  body: actionView(await service.create(tenantId, body as unknown as ActionInput)),
}));
