import { getEndpointSecret } from './lib/api/catalog-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getEndpointSecret, async ({ app, principal, params }) => {
  const [current, ...previous] = await app.endpoints.secrets(asTenant(principal).tenantId, params.id);
  return {
    status: 200,
    body: {
      secret: current?.value,
      ...(previous.length > 0 && { previous: previous.map((s) => ({ secret: s.value, expiresAt: s.expiresAt })) }),
    },
  };
});
