import './lib/schema/use-ajv.ts';
import { createMessage, messageAccepted } from './lib/api/message-routes.ts';
import { asTenant } from './lib/core/access.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(createMessage, async ({ app, principal, body, json, event }) => {
  const idempotencyKey = event.headers?.['idempotency-key'];
  // The payload's own text, not a re-serialisation: receivers get exactly what was accepted.
  const payload = { value: body.payload, text: json?.member('payload') ?? JSON.stringify(body.payload) };
  const { message, created } = await app.messages.ingest(asTenant(principal).tenantId, body.type, payload, idempotencyKey);
  return { status: 202, body: messageAccepted(message), headers: { 'idempotent-replayed': String(!created) } };
});
