import { messageAccepted } from './lib/api/message-routes.ts';
import { testEndpoint, testResult } from './lib/api/recovery-routes.ts';
import { tester } from './lib/container.ts';
import { deliveryIdFor } from './lib/core/ids.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(testEndpoint, tester, async ({ service, tenantId, params }) => {
  const { message, report } = await service.ping(tenantId, params.id);
  return {
    status: 200,
    body: {
      message: messageAccepted(message, new Date(message.createdAt)),
      deliveryId: deliveryIdFor(message.id, params.id),
      ...testResult(report),
    },
  };
});
