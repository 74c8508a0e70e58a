import { actionView, createAction } from './lib/api/action-routes.ts';
import { asTenant } from './lib/core/access.ts';
import type { ActionInput } from './lib/core/actions.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(createAction, async ({ app, principal, body }) => ({
  status: 201,
  body: actionView(await app.actions.create(asTenant(principal).tenantId, body as unknown as ActionInput)),
}));
