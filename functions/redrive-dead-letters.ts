import { redriveDeadLetters } from './lib/api/recovery-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(redriveDeadLetters, async ({ app, principal, body }) => ({
  status: 202,
  body: await app.recovery.redrive(asTenant(principal).tenantId, body.ids),
}));
