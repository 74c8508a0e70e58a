import { createTenant, tenantView } from './lib/api/access-routes.ts';
import { tenants } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(createTenant, tenants, async ({ service, body }) => {
  const { tenant, apiKey } = await service.create(body.name, { ingestPerSecond: body.ingestPerSecond });
  return { status: 201, body: { ...tenantView(tenant), apiKey } };
});
