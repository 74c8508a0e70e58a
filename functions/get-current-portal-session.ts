import { getCurrentPortalSession, portalSessionView } from './lib/api/access-routes.ts';
import { portalSessions } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getCurrentPortalSession, portalSessions, async ({ service, principal }) => {
  const session = await service.current(principal);
  return { status: 200, body: { ...portalSessionView(session), tenantName: session.tenantName } };
});
