import { tenantView, updateTenant } from './lib/api/access-routes.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(updateTenant, async ({ app, params, body }) => ({
  status: 200,
  body: tenantView(await app.tenants.update(params.id, body)),
}));
