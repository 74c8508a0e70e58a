import './lib/schema/use-ajv.ts';
import { createMessage, messageAccepted } from './lib/api/message-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(createMessage, async ({ app, principal, body, event }) => {
  const idempotencyKey = event.headers?.['idempotency-key'];
  const { message, created } = await app.messages.ingest(asTenant(principal).tenantId, body.type, body.payload, idempotencyKey);
  return { status: 202, body: messageAccepted(message), headers: { 'idempotent-replayed': String(!created) } };
});
