import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type * as z from 'zod';
import { IdempotencyKeyHeader } from './route-spec.ts';
import { routeSpecs } from './routes.ts';

/** Generated from the same zod schemas that validate requests: the document cannot drift. */
export function openApiDocument(): Record<string, unknown> {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'apiKey', {
    type: 'http',
    scheme: 'bearer',
    description: 'A tenant API key (`sk_…`), or the root key for /v1/tenants',
  });
  // The inbound hooks keep the seed's way of passing a key (contract §7).
  registry.registerComponent('securitySchemes', 'hookKeyHeader', {
    type: 'apiKey',
    in: 'header',
    name: 'x-webhook-apikey',
    description: 'An API key with the inbound (or admin) scope',
  });
  registry.registerComponent('securitySchemes', 'hookKeyQuery', {
    type: 'apiKey',
    in: 'query',
    name: 'api_key',
    description: 'The same key in the URL, for callers that can only open a URL',
  });
  for (const spec of routeSpecs) {
    registry.registerPath({
      method: spec.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete',
      path: spec.path,
      operationId: spec.name,
      summary: spec.summary,
      tags: [spec.tag],
      // Public routes say so (`security: []`), or name the hooks' own scheme.
      ...(spec.access === 'public' && {
        security: spec.hookKey ? [{ [spec.hookKey === 'header' ? 'hookKeyHeader' : 'hookKeyQuery']: [] }] : [],
      }),
      ...(spec.access !== 'public' && {
        security: [{ apiKey: [] }],
        description: `${spec.description ?? ''}${spec.description ? '\n\n' : ''}Access: ${spec.access === 'root' ? 'root key' : `scope ${spec.access.join(' or ')} (admin always)`}.`,
      }),
      request: {
        ...(spec.params && { params: spec.params as z.ZodObject }),
        ...(spec.query && { query: spec.query as z.ZodObject }),
        ...((spec.headers || spec.idempotent) && { headers: spec.headers ?? IdempotencyKeyHeader }),
        ...(spec.body && { body: { required: !spec.body.safeParse({}).success, content: { 'application/json': { schema: spec.body } } } }),
      },
      responses: Object.fromEntries(
        Object.entries(spec.responses).map(([status, response]) => [
          status,
          {
            description: response.description,
            ...(response.headers && {
              headers: Object.fromEntries(
                Object.entries(response.headers).map(([name, description]) => [name, { description, schema: { type: 'integer' } }]),
              ),
            }),
            ...(response.schema && { content: { 'application/json': { schema: response.schema } } }),
          },
        ]),
      ),
    });
  }
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Sluice API',
      version: '1.0.0',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      description:
        'Send webhooks to your customers, and receive webhooks that trigger actions. Errors: `{"error":{"code","message","details"}}`.',
    },
    servers: [{ url: '/' }],
  }) as unknown as Record<string, unknown>;
}
