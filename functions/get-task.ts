import { getTask, taskView } from './lib/api/recovery-routes.ts';
import { replays } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(getTask, replays, async ({ service, tenantId, params }) => ({
  status: 200,
  body: taskView(await service.get(tenantId, params.id)),
}));
