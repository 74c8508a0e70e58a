import { rotateEndpointSecret } from './lib/api/recovery-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(rotateEndpointSecret, async ({ app, principal, params }) => {
  const [current, ...previous] = await app.endpoints.rotateSecret(asTenant(principal).tenantId, params.id);
  return {
    status: 200,
    body: { secret: current?.value, previous: previous.map((s) => ({ secret: s.value, expiresAt: s.expiresAt })) },
  };
});
