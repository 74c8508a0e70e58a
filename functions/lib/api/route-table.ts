/**
 * The router's view of a route: which entry (`functions/<name>.ts`) serves which method and path.
 * Derived from the route declarations (`routes.ts`); kept free of zod so the `$default` catch-all
 * can route without loading any schema.
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteEntry {
  readonly name: string;
  readonly method: HttpMethod;
  readonly path: string;
}

/**
 * The route table as the `$default` catch-all gets it, in its environment: `METHOD path` pairs, one
 * per line (names are not needed to answer 404 or 405). About 1 KB for the whole API.
 */
export function routeListOf(routes: readonly RouteEntry[]): string {
  return routes.map((route) => `${route.method} ${route.path}`).join('\n');
}

const httpMethods: readonly string[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** The inverse of `routeListOf`; a malformed line throws, so a bad deploy fails at cold start, not per request. */
export function routesOfList(list: string): { readonly method: HttpMethod; readonly path: string }[] {
  return list
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [method = '', path = '', extra] = line.trim().split(' ');
      if (!httpMethods.includes(method) || !path.startsWith('/') || extra !== undefined) throw new Error(`malformed route line: ${line}`);
      return { method: method as HttpMethod, path };
    });
}

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
