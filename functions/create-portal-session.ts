import { createPortalSession, portalSessionView } from './lib/api/access-routes.ts';
import { portalSessions } from './lib/container.ts';
import { httpHandler, publicBaseUrl } from './lib/edge/http.ts';

export const handler = httpHandler(createPortalSession, portalSessions, async ({ service, principal, body, event }) => {
  const { session, token } = await service.open(principal, body);
  // In the fragment: browsers send no fragment to a server, so the token stays out of access logs.
  const url = `${publicBaseUrl(event)}/portal#token=${encodeURIComponent(token)}`;
  return { status: 201, body: { ...portalSessionView(session), token, url }, headers: { 'cache-control': 'no-store' } };
});
