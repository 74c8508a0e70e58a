/**
 * Every HTTP route of the contract and the Lambda entry (`functions/<name>.ts`) that serves it.
 * Plain data: the CDK stack wires API Gateway from it, the local HTTP API routes with it, and
 * the OpenAPI document is generated from the schemas attached to the same names.
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteEntry {
  readonly name: string;
  readonly method: HttpMethod;
  readonly path: string;
}

export const routeTable = [
  { name: 'create-tenant', method: 'POST', path: '/v1/tenants' },
  { name: 'list-tenants', method: 'GET', path: '/v1/tenants' },
  { name: 'update-tenant', method: 'PATCH', path: '/v1/tenants/{id}' },
  { name: 'create-api-key', method: 'POST', path: '/v1/api-keys' },
  { name: 'list-api-keys', method: 'GET', path: '/v1/api-keys' },
  { name: 'delete-api-key', method: 'DELETE', path: '/v1/api-keys/{id}' },
  { name: 'reveal-api-key', method: 'GET', path: '/v1/api-keys/{id}/reveal' },
  { name: 'put-event-type', method: 'PUT', path: '/v1/event-types/{name}' },
  { name: 'list-event-types', method: 'GET', path: '/v1/event-types' },
  { name: 'get-event-type', method: 'GET', path: '/v1/event-types/{name}' },
  { name: 'delete-event-type', method: 'DELETE', path: '/v1/event-types/{name}' },
  { name: 'create-endpoint', method: 'POST', path: '/v1/endpoints' },
  { name: 'list-endpoints', method: 'GET', path: '/v1/endpoints' },
  { name: 'get-endpoint', method: 'GET', path: '/v1/endpoints/{id}' },
  { name: 'update-endpoint', method: 'PATCH', path: '/v1/endpoints/{id}' },
  { name: 'delete-endpoint', method: 'DELETE', path: '/v1/endpoints/{id}' },
  { name: 'get-endpoint-secret', method: 'GET', path: '/v1/endpoints/{id}/secret' },
  { name: 'list-endpoint-deliveries', method: 'GET', path: '/v1/endpoints/{id}/deliveries' },
  { name: 'get-endpoint-stats', method: 'GET', path: '/v1/endpoints/{id}/stats' },
  { name: 'create-message', method: 'POST', path: '/v1/messages' },
  { name: 'list-messages', method: 'GET', path: '/v1/messages' },
  { name: 'get-message', method: 'GET', path: '/v1/messages/{id}' },
  { name: 'list-message-deliveries', method: 'GET', path: '/v1/messages/{id}/deliveries' },
  { name: 'get-delivery', method: 'GET', path: '/v1/deliveries/{id}' },
  { name: 'retry-delivery', method: 'POST', path: '/v1/deliveries/{id}/retry' },
  { name: 'recover-endpoint', method: 'POST', path: '/v1/endpoints/{id}/recover' },
  { name: 'list-dead-letters', method: 'GET', path: '/v1/dead-letters' },
  { name: 'redrive-dead-letters', method: 'POST', path: '/v1/dead-letters/redrive' },
  { name: 'rotate-endpoint-secret', method: 'POST', path: '/v1/endpoints/{id}/secret/rotate' },
  { name: 'test-endpoint', method: 'POST', path: '/v1/endpoints/{id}/test' },
  { name: 'get-inbox-item', method: 'GET', path: '/v1/inbox/{id}' },
  { name: 'ack-inbox-item', method: 'POST', path: '/v1/inbox/{id}/ack' },
  { name: 'list-inbox', method: 'GET', path: '/v1/inbox' },
  { name: 'create-action', method: 'POST', path: '/v1/actions' },
  { name: 'list-actions', method: 'GET', path: '/v1/actions' },
  { name: 'get-action', method: 'GET', path: '/v1/actions/{id}' },
  { name: 'delete-action', method: 'DELETE', path: '/v1/actions/{id}' },
  { name: 'get-trigger-url', method: 'GET', path: '/v1/actions/{id}/trigger-url' },
  { name: 'list-action-triggers', method: 'GET', path: '/v1/actions/{id}/triggers' },
  { name: 'post-hook', method: 'POST', path: '/v1/hooks' },
  { name: 'get-hook', method: 'GET', path: '/v1/hooks' },
  { name: 'get-openapi', method: 'GET', path: '/v1/openapi.json' },
] as const satisfies readonly RouteEntry[];

export type RouteName = (typeof routeTable)[number]['name'];

/** The methods a route answers: every GET route also answers HEAD (the same headers, no body). */
export function methodsOf(method: string): readonly string[] {
  return method === 'GET' ? ['GET', 'HEAD'] : [method];
}

/**
 * CORS for browser clients (the portal, a vendor's dashboard): what a preflight allows and what
 * a page may read. Origins are configuration (`corsOrigins` in the CDK context,
 * `SLUICE_CORS_ORIGINS` locally), none by default; API Gateway and the local API apply this.
 */
export const corsPolicy = {
  allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
  allowHeaders: ['authorization', 'content-type', 'idempotency-key', 'x-request-id'],
  exposeHeaders: ['x-request-id', 'retry-after', 'idempotent-replayed', 'allow'],
  maxAgeSeconds: 86_400,
} as const;

/** An origin as a browser sends it: scheme, host and optional port, nothing else. */
export const corsOriginPattern = /^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/;
