import { createMessage, messageAccepted } from './lib/api/message-routes.ts';
import { messages } from './lib/container.ts';
import { httpHandler } from './lib/edge/http.ts';

export const handler = httpHandler(createMessage, messages, async ({ service, tenantId, body, json, event }) => {
  const idempotencyKey = event.headers?.['idempotency-key'];
  // The payload's own text, not a re-serialisation: receivers get exactly what was accepted.
  const payload = { value: body.payload, text: json?.member('payload') ?? JSON.stringify(body.payload) };
  const { message, created } = await service.ingest(tenantId, body.type, payload, {
    ...(idempotencyKey !== undefined && { idempotencyKey }),
    ...(body.metadata !== undefined && { metadata: body.metadata }),
    ...(body.deliverAt !== undefined && { deliverAt: new Date(body.deliverAt) }),
  });
  return { status: 202, body: messageAccepted(message, service.now()), headers: { 'idempotent-replayed': String(!created) } };
});
