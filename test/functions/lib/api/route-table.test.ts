/**
 * The route table, the Lambda entries, the route contracts and the OpenAPI document describe the
 * same API: a route cannot exist in one and be missing from another.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { openApiDocument } from '../../../../functions/lib/api/openapi.ts';
import { routeSpecs, routeTable } from '../../../../functions/lib/api/routes.ts';
import { consumers, noRouteFunction, scheduledFunctions } from '../../../../infra/description.ts';

const entry = (name: string) => path.join(process.cwd(), 'functions', `${name}.ts`);

describe('route table', () => {
  test('every route, consumer and scheduled function, and the $default catch-all, has its entry file', () => {
    const names = [...routeTable.map((r) => r.name), ...consumers.map((c) => c.name), ...scheduledFunctions.map((f) => f.name)];
    for (const name of [...names, noRouteFunction.name]) {
      expect({ name, exists: existsSync(entry(name)) }).toEqual({ name, exists: true });
    }
  });

  test('names and method+path pairs are unique', () => {
    expect(new Set(routeTable.map((r) => r.name)).size).toBe(routeTable.length);
    expect(new Set(routeTable.map((r) => `${r.method} ${r.path}`)).size).toBe(routeTable.length);
  });

  test('every route has exactly one contract, and the OpenAPI document lists every route', () => {
    expect(routeSpecs.map((s) => s.name).sort()).toEqual(routeTable.map((r) => r.name).sort());
    const paths = openApiDocument().paths as Record<string, Record<string, { operationId: string }>>;
    for (const route of routeTable) {
      expect(paths[route.path]?.[route.method.toLowerCase()]?.operationId).toBe(route.name);
    }
  });

  test('every contract path covers the whole API surface of the product contract', () => {
    const contract = [
      'POST /v1/tenants',
      'GET /v1/tenants',
      'POST /v1/api-keys',
      'GET /v1/api-keys',
      'GET /v1/api-keys/{id}/reveal',
      'DELETE /v1/api-keys/{id}',
      'PUT /v1/event-types/{name}',
      'GET /v1/event-types',
      'GET /v1/event-types/{name}',
      'DELETE /v1/event-types/{name}',
      'POST /v1/endpoints',
      'GET /v1/endpoints',
      'GET /v1/endpoints/{id}',
      'PATCH /v1/endpoints/{id}',
      'DELETE /v1/endpoints/{id}',
      'GET /v1/endpoints/{id}/secret',
      'POST /v1/endpoints/{id}/secret/rotate',
      'POST /v1/endpoints/{id}/test',
      'POST /v1/messages',
      'GET /v1/messages',
      'GET /v1/messages/{id}',
      'GET /v1/messages/{id}/deliveries',
      'GET /v1/endpoints/{id}/deliveries',
      'GET /v1/deliveries/{id}',
      'POST /v1/deliveries/{id}/retry',
      'POST /v1/endpoints/{id}/recover',
      'GET /v1/dead-letters',
      'POST /v1/dead-letters/redrive',
      'GET /v1/inbox/{id}',
      'POST /v1/inbox/{id}/ack',
      'GET /v1/inbox',
      'POST /v1/actions',
      'GET /v1/actions',
      'GET /v1/actions/{id}',
      'DELETE /v1/actions/{id}',
      'GET /v1/actions/{id}/trigger-url',
      'POST /v1/hooks',
      'GET /v1/hooks',
      'GET /v1/openapi.json',
    ];
    const served = new Set(routeTable.map((r) => `${r.method} ${r.path}`));
    for (const route of contract) expect({ route, served: served.has(route) }).toEqual({ route, served: true });
  });
});
