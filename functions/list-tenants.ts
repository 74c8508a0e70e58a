import { listTenants, tenantView } from './lib/api/access-routes.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listTenants, async ({ app, query }) => ({
  status: 200,
  body: page(await app.tenants.list(query), tenantView),
}));
