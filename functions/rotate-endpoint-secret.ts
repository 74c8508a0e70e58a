import { rotateEndpointSecret } from './lib/api/catalog-routes.ts';
import { endpoints } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(rotateEndpointSecret, endpoints, async ({ service, tenantId, params }) => {
  const [current, ...previous] = await service.rotateSecret(tenantId, params.id);
  return {
    status: 200,
    body: { secret: current?.value, previous: previous.map((s) => ({ secret: s.value, expiresAt: s.expiresAt })) },
  };
});
