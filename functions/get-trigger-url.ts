import { getTriggerUrl } from './lib/api/action-routes.ts';
import { actions } from './lib/container.ts';
import { httpHandler, publicBaseUrl } from './lib/edge/http.ts';

export const handler = httpHandler(getTriggerUrl, actions, async ({ service, tenantId, params, query, event }) => ({
  status: 200,
  body: { url: await service.triggerUrl(tenantId, params.id, query.keyId, publicBaseUrl(event)) },
}));
