import { recoverEndpoint } from './lib/api/recovery-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(recoverEndpoint, async ({ app, principal, params, body }) => ({
  status: 202,
  body: await app.recovery.recover(asTenant(principal).tenantId, params.id, new Date(body.since)),
}));
