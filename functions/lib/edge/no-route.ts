/**
 * The `$default` route: API Gateway sends it every request that no route takes (the local API
 * does the same), so an unknown path or a wrong method gets the API's own JSON error with its
 * `x-request-id`, not API Gateway's `{"message":"Not Found"}`. It answers from the route table
 * alone: no container, so no secret, table or AWS SDK client is loaded.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { isRouteHit, routeMatcher } from '../api/route-match.ts';
import { routeTable } from '../api/route-table.ts';
import { type CorrelatedContext, correlate, errorBody, type HttpEvent, type HttpResult, json } from './answers.ts';
import { logger, traceInvocations } from './observability.ts';

const match = routeMatcher(routeTable);

/** `404 not_found`, or `405 method_not_allowed` with `Allow` when the path has other methods. */
export function noRouteAnswer(method: string, path: string, requestId: string | undefined): HttpResult {
  const found = match(method, path);
  if (isRouteHit(found)) {
    // API Gateway matched no route, yet the table has one: the two disagree on matching. Nothing serves it either way.
    logger.warn('the catch-all got a request the route table matches', { method, path, route: found.route.name });
  } else if (found.status === 405) {
    const allow = found.allow.join(', ');
    return json(405, errorBody('method_not_allowed', `${method} is not allowed on ${path}; use ${allow}`, requestId), { allow });
  }
  return json(404, errorBody('not_found', `no route for ${method} ${path}; see GET /v1/openapi.json`, requestId));
}

export function noRouteHandler() {
  return middy<HttpEvent, HttpResult, Error, CorrelatedContext>()
    .use(traceInvocations())
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(correlate())
    .handler(async (event, context) => noRouteAnswer(event.requestContext.http.method, event.rawPath, context.requestId));
}
