import { getTriggerUrl } from './lib/api/action-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getTriggerUrl, async ({ app, principal, params, query, event }) => {
  // The URL the caller reached this API on, so the trigger URL works from where they stand.
  const proto = event.headers?.['x-forwarded-proto'] ?? (app.config.profile === 'local' ? 'http' : 'https');
  const baseUrl = `${proto}://${event.requestContext.domainName}`;
  return { status: 200, body: { url: await app.actions.triggerUrl(asTenant(principal).tenantId, params.id, query.keyId, baseUrl) } };
});
