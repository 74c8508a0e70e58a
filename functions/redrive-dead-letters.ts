import { redriveDeadLetters } from './lib/api/recovery-routes.ts';
import { recovery } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(redriveDeadLetters, recovery, async ({ service, tenantId, body }) => ({
  status: 202,
  body: await service.redrive(tenantId, body.ids),
}));
