import { replayEndpoint, taskView } from './lib/api/recovery-routes.ts';
import { replays } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(replayEndpoint, replays, async ({ service, tenantId, params, body }) => {
  const { task } = await service.start(tenantId, params.id, body);
  return { status: 202, body: taskView(task), headers: { location: `/v1/tasks/${task.id}` } };
});
