import { tenantView, updateTenant } from './lib/api/access-routes.ts';
import { tenants } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(updateTenant, tenants, async ({ service, params, body }) => ({
  status: 200,
  body: tenantView(await service.update(params.id, body)),
}));
