import { recoverEndpoint } from './lib/api/recovery-routes.ts';
import { recovery } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(recoverEndpoint, recovery, async ({ service, tenantId, params, body }) => ({
  status: 202,
  body: await service.recover(tenantId, params.id, new Date(body.since)),
}));
