import { listTenants, tenantView } from './lib/api/access-routes.ts';
import { tenants } from './lib/container.ts';
import { httpHandler, page } from './lib/edge/http.ts';

export const handler = httpHandler(listTenants, tenants, async ({ service, query }) => ({
  status: 200,
  body: page(await service.list(query), tenantView),
}));
