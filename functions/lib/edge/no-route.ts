/**
 * The `$default` route: API Gateway sends it every request that no route takes (the local API
 * does the same), so an unknown path or a wrong method gets the API's own JSON error with its
 * `x-request-id`, not API Gateway's `{"message":"Not Found"}`. It answers from the route list in its
 * environment alone (derived from the route declarations when the stack is built): no container,
 * no schema, so no secret, table, zod or AWS SDK client is loaded.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { isRouteHit, type RouteMatcher, type RouteTemplate, routeMatcher } from '../api/route-match.ts';
import { routesOfList } from '../api/route-table.ts';
import { envNames } from '../env-names.ts';
import { type CorrelatedContext, correlate, errorBody, type HttpEvent, type HttpResult, json } from './answers.ts';
import { logger, traceInvocations } from './observability.ts';

/** `404 not_found`, or `405 method_not_allowed` with `Allow` when the path has other methods. */
export function noRouteAnswer(match: RouteMatcher<RouteTemplate>, method: string, path: string, requestId: string | undefined): HttpResult {
  const found = match(method, path);
  if (isRouteHit(found)) {
    // API Gateway matched no route, yet the table has one: the two disagree on matching. Nothing serves it either way.
    logger.warn('the catch-all got a request the route table matches', {
      method,
      path,
      route: `${found.route.method} ${found.route.path}`,
    });
  } else if (found.status === 405) {
    const allow = found.allow.join(', ');
    return json(405, errorBody('method_not_allowed', `${method} is not allowed on ${path}; use ${allow}`, requestId), { allow });
  }
  return json(404, errorBody('not_found', `no route for ${method} ${path}; see GET /v1/openapi.json`, requestId));
}

/** The matcher of the route list in the environment; a missing or malformed list fails the invocation (a deploy error), not a guess. */
function matcherOf(env: NodeJS.ProcessEnv): RouteMatcher<RouteTemplate> {
  const list = env[envNames.routeList];
  if (!list) throw new Error(`${envNames.routeList} is not set: the catch-all needs the route list the stack derives from the routes`);
  return routeMatcher(routesOfList(list));
}

export function noRouteHandler(env: NodeJS.ProcessEnv = process.env) {
  let match: RouteMatcher<RouteTemplate> | undefined;
  return middy<HttpEvent, HttpResult, Error, CorrelatedContext>()
    .use(traceInvocations())
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(correlate())
    .handler(async (event, context) => {
      match ??= matcherOf(env);
      return noRouteAnswer(match, event.requestContext.http.method, event.rawPath, context.requestId);
    });
}
