import { deleteApiKey } from './lib/api/access-routes.ts';
import { apiKeys } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(deleteApiKey, apiKeys, async ({ service, tenantId, params }) => {
  await service.revoke(tenantId, params.id);
  return { status: 204 };
});
