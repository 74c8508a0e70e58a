import { noRouteHandler } from './lib/edge/no-route.ts';

/** The HTTP API's `$default` route: every request no route takes answers `404` or `405` from the route table. */
export const handler = noRouteHandler();
