/**
 * Which route of a table a request names, as API Gateway matches them: a path template's
 * `{name}` is one whole segment, nothing is decoded or normalised (a trailing slash is another
 * path), and a literal segment beats a parameter. The local HTTP API routes with it, and the
 * `$default` catch-all uses it to tell an unknown path (404) from a wrong method (405).
 */
import { methodsOf } from './route-table.ts';

export interface RouteTemplate {
  readonly method: string;
  readonly path: string;
}

export interface RouteHit<R extends RouteTemplate> {
  readonly route: R;
  /** Each `{name}` of the template, as sent (still percent-encoded). */
  readonly pathParameters: Readonly<Record<string, string>>;
}

export type RouteMiss = { readonly status: 404 } | { readonly status: 405; readonly allow: readonly string[] };

export type RouteMatcher<R extends RouteTemplate> = (method: string, path: string) => RouteHit<R> | RouteMiss;

interface Compiled<R> {
  readonly route: R;
  readonly pattern: RegExp;
  readonly paramNames: readonly string[];
}

function compile<R extends RouteTemplate>(route: R): Compiled<R> {
  const paramNames: string[] = [];
  const source = route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_match, name: string) => {
    paramNames.push(name);
    return '([^/]+)';
  });
  return { route, pattern: new RegExp(`^${source}$`), paramNames };
}

export function isRouteHit<R extends RouteTemplate>(match: RouteHit<R> | RouteMiss): match is RouteHit<R> {
  return 'route' in match;
}

/**
 * A matcher over `routes`, compiled once. A miss on a path some route has is a 405 whose `allow`
 * lists that path's methods in table order (HEAD with every GET).
 */
export function routeMatcher<R extends RouteTemplate>(routes: readonly R[]): RouteMatcher<R> {
  // Fewer parameters first (the sort is stable, so table order otherwise): API Gateway prefers the most specific route.
  const compiled = routes.map((route) => compile(route)).sort((a, b) => a.paramNames.length - b.paramNames.length);
  return (method, path) => {
    const candidates = compiled.flatMap((entry) => {
      const match = entry.pattern.exec(path);
      return match ? [{ entry, match }] : [];
    });
    const hit = candidates.find(({ entry }) => methodsOf(entry.route.method).includes(method));
    if (hit) {
      const { entry, match } = hit;
      return { route: entry.route, pathParameters: Object.fromEntries(entry.paramNames.map((name, i) => [name, match[i + 1] ?? ''])) };
    }
    if (candidates.length === 0) return { status: 404 };
    const matched = routes.filter((route) => candidates.some(({ entry }) => entry.route === route));
    return { status: 405, allow: [...new Set(matched.flatMap((route) => methodsOf(route.method)))] };
  };
}
