/**
 * A typed Sluice client in a few lines: the types generated from the OpenAPI document plus
 * `openapi-fetch`. Everything below compiles under `strict` with no cast: the document
 * declares every field a client reads.
 */
import createClient from 'openapi-fetch';
import type { paths } from './sluice-api.ts';

export interface TourResult {
  readonly tenantId: string;
  readonly endpointId: string;
  readonly messageId: string;
  readonly deliveryStatuses: readonly string[];
}

function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the API answered no ${what}`);
  return value;
}

/** Creates a tenant, an event type, an endpoint and a message, then lists the message's deliveries. */
export async function tour(baseUrl: string, rootKey: string, receiverUrl: string): Promise<TourResult> {
  const root = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${rootKey}` } });
  const tenant = must((await root.POST('/v1/tenants', { body: { name: 'typed client' } })).data, 'tenant');

  const api = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${tenant.apiKey}` } });
  await api.PUT('/v1/event-types/{name}', {
    params: { path: { name: 'order.paid' } },
    body: { description: 'An order was paid', schema: { type: 'object', required: ['orderId'] } },
  });
  const endpoint = must((await api.POST('/v1/endpoints', { body: { url: receiverUrl, eventTypes: ['order.paid'] } })).data, 'endpoint');
  const message = must(
    (
      await api.POST('/v1/messages', {
        params: { header: { 'idempotency-key': 'typed-client-1' } },
        body: { type: 'order.paid', payload: { orderId: 'ord_1', amount: 42 } },
      })
    ).data,
    'message',
  );
  const deliveries = must(
    (await api.GET('/v1/messages/{id}/deliveries', { params: { path: { id: message.id }, query: { limit: 10 } } })).data,
    'deliveries',
  );
  return {
    tenantId: tenant.id,
    endpointId: endpoint.id,
    messageId: message.id,
    deliveryStatuses: deliveries.data.map((delivery) => delivery.status),
  };
}
