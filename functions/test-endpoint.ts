import './lib/http/use-undici.ts';
import { messageAccepted } from './lib/api/message-routes.ts';
import { testEndpoint, testResult } from './lib/api/recovery-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { deliveryIdFor } from './lib/core/ids.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(testEndpoint, async ({ app, principal, params }) => {
  const { message, report } = await app.tester.ping(asTenant(principal).tenantId, params.id);
  return {
    status: 200,
    body: { message: messageAccepted(message), deliveryId: deliveryIdFor(message.id, params.id), ...testResult(report) },
  };
});
