import { createTenant, tenantView } from './lib/api/access-routes.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(createTenant, async ({ app, body }) => {
  const { tenant, apiKey } = await app.tenants.create(body.name, { ingestPerSecond: body.ingestPerSecond });
  return { status: 201, body: { ...tenantView(tenant), apiKey } };
});
