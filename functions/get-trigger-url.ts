import { getTriggerUrl } from './lib/api/action-routes.ts';
import { actions } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getTriggerUrl, actions, async ({ service, tenantId, params, query, event }) => {
  // The URL the caller reached this API on, so the trigger URL works from where they stand (API
  // Gateway sets the scheme the client used, the local API says http).
  const proto = event.headers?.['x-forwarded-proto'] ?? 'https';
  const baseUrl = `${proto}://${event.requestContext.domainName}`;
  return { status: 200, body: { url: await service.triggerUrl(tenantId, params.id, query.keyId, baseUrl) } };
});
