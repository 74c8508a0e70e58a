import { getPortal } from './lib/api/meta-routes.ts';
import { httpHandler, noService } from './lib/edge/http.ts';
import { portalHeaders, portalPage } from './lib/edge/portal-page.ts';

export const handler = httpHandler(getPortal, noService, async () => ({ status: 200, text: portalPage(), headers: portalHeaders }));
