/**
 * Every route of the API, collected from the modules that declare them (one `defineRoute` each).
 * What serves, documents or grants a route is derived from this list: the route table of the CDK
 * stack and the local HTTP API, the OpenAPI document, the IAM grants (infra/access.ts), and the
 * table the `$default` catch-all answers 404 and 405 from.
 */
import * as accessRoutes from './access-routes.ts';
import * as actionRoutes from './action-routes.ts';
import * as catalogRoutes from './catalog-routes.ts';
import * as filterRoutes from './filter-routes.ts';
import * as inboxRoutes from './inbox-routes.ts';
import * as messageRoutes from './message-routes.ts';
import * as metaRoutes from './meta-routes.ts';
import * as recoveryRoutes from './recovery-routes.ts';
import type { RouteSpec } from './route-spec.ts';
import type { RouteEntry } from './route-table.ts';

function isRouteSpec(value: unknown): value is RouteSpec {
  return typeof value === 'object' && value !== null && 'name' in value && 'path' in value && 'uses' in value && 'responses' in value;
}

/** Create, read, update, delete: the order a path's methods are listed in (an `Allow` header, the OpenAPI document). */
const methodOrder: readonly string[] = ['POST', 'GET', 'PUT', 'PATCH', 'DELETE'];

const areas = [accessRoutes, catalogRoutes, filterRoutes, messageRoutes, recoveryRoutes, inboxRoutes, actionRoutes, metaRoutes];

/**
 * By area (the modules above), then by path, then by method in CRUD order: declaration order is not
 * available (a module namespace lists its exports alphabetically), and this order keeps a path's
 * methods together.
 */
export const routeSpecs: readonly RouteSpec[] = areas.flatMap((area) =>
  Object.values(area)
    .filter(isRouteSpec)
    .sort((a, b) => (a.path === b.path ? methodOrder.indexOf(a.method) - methodOrder.indexOf(b.method) : a.path < b.path ? -1 : 1)),
);

/** Name, method and path of every route: what a router needs, without the schemas. */
export const routeTable: readonly RouteEntry[] = routeSpecs.map(({ name, method, path }) => ({ name, method, path }));
