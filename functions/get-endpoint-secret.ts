import { getEndpointSecret } from './lib/api/catalog-routes.ts';
import { endpoints } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getEndpointSecret, endpoints, async ({ service, tenantId, params }) => {
  const [current, ...previous] = await service.secrets(tenantId, params.id);
  return {
    status: 200,
    body: {
      secret: current?.value,
      ...(previous.length > 0 && { previous: previous.map((s) => ({ secret: s.value, expiresAt: s.expiresAt })) }),
    },
  };
});
