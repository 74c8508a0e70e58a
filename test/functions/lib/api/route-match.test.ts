/**
 * The one route matcher (the local HTTP API routes with it; the `$default` catch-all tells 404
 * from 405 with it): templates over the real route table, and the rules API Gateway follows.
 */
import { isRouteHit, type RouteHit, type RouteMiss, type RouteTemplate, routeMatcher } from '../../../../functions/lib/api/route-match.ts';
import { routeListOf, routesOfList } from '../../../../functions/lib/api/route-table.ts';
import { routeTable } from '../../../../functions/lib/api/routes.ts';

const match = routeMatcher(routeTable);

function hit<R extends RouteTemplate>(found: RouteHit<R> | RouteMiss): RouteHit<R> {
  if (!isRouteHit(found)) throw new Error(`expected a route, got ${JSON.stringify(found)}`);
  return found;
}

describe('routeMatcher over the route table', () => {
  test('a literal path: its route, no parameters', () => {
    const found = hit(match('POST', '/v1/messages'));
    expect(found.route.name).toBe('create-message');
    expect(found.pathParameters).toEqual({});
    expect(hit(match('GET', '/v1/messages')).route.name).toBe('list-messages');
  });

  test('a path parameter is one whole segment', () => {
    expect(hit(match('GET', '/v1/endpoints/ep_1/deliveries'))).toEqual({
      route: expect.objectContaining({ name: 'list-endpoint-deliveries' }),
      pathParameters: { id: 'ep_1' },
    });
    expect(hit(match('POST', '/v1/endpoints/ep_1/secret/rotate')).pathParameters).toEqual({ id: 'ep_1' });
    // No segment, or two where the template has one: no route there.
    expect(match('GET', '/v1/endpoints//deliveries')).toEqual({ status: 404 });
    expect(match('GET', '/v1/endpoints/a/b/deliveries')).toEqual({ status: 404 });
  });

  test('HEAD goes to the GET route of the path', () => {
    expect(hit(match('HEAD', '/v1/endpoints/ep_1')).route.name).toBe('get-endpoint');
  });

  test('an unknown path: 404', () => {
    expect(match('GET', '/x')).toEqual({ status: 404 });
    expect(match('GET', '/')).toEqual({ status: 404 });
    expect(match('GET', '/v2/messages')).toEqual({ status: 404 });
    expect(match('OPTIONS', '/nowhere')).toEqual({ status: 404 });
  });

  test('a known path with another method: 405 with its methods in table order, HEAD with every GET', () => {
    expect(match('PUT', '/v1/messages')).toEqual({ status: 405, allow: ['POST', 'GET', 'HEAD'] });
    expect(match('POST', '/v1/endpoints/ep_1')).toEqual({ status: 405, allow: ['GET', 'HEAD', 'PATCH', 'DELETE'] });
    expect(match('GET', '/v1/dead-letters/redrive')).toEqual({ status: 405, allow: ['POST'] });
    // HEAD is only GET's: a path without GET refuses it too.
    expect(match('HEAD', '/v1/dead-letters/redrive')).toEqual({ status: 405, allow: ['POST'] });
    expect(match('OPTIONS', '/v1/openapi.json')).toEqual({ status: 405, allow: ['GET', 'HEAD'] });
  });

  test('a trailing slash is another path', () => {
    expect(match('GET', '/v1/messages/')).toEqual({ status: 404 });
    expect(match('GET', '/v1/endpoints/ep_1/')).toEqual({ status: 404 });
  });

  test('percent-encoding is matched as sent and the parameter handed on still encoded', () => {
    // An encoded slash does not split the segment; the route decodes (and refuses malformed encoding) itself.
    expect(hit(match('GET', '/v1/event-types/order%2Fcreated'))).toEqual({
      route: expect.objectContaining({ name: 'get-event-type' }),
      pathParameters: { name: 'order%2Fcreated' },
    });
    expect(hit(match('GET', '/v1/endpoints/%E0%A4%A')).pathParameters).toEqual({ id: '%E0%A4%A' });
    // Literal segments are not decoded: `%6D` is not `m`.
    expect(match('GET', '/v1/%6Dessages')).toEqual({ status: 404 });
  });

  test('method names are exact (HTTP methods are case-sensitive)', () => {
    expect(match('get', '/v1/messages')).toEqual({ status: 405, allow: ['POST', 'GET', 'HEAD'] });
  });

  test('template characters that mean something in a regular expression are literal', () => {
    expect(hit(match('GET', '/v1/openapi.json')).route.name).toBe('get-openapi');
    expect(match('GET', '/v1/openapiXjson')).toEqual({ status: 404 });
  });
});

describe('routeMatcher rules on a small table', () => {
  const table = [
    { name: 'by-id', method: 'GET', path: '/things/{id}' },
    { name: 'mine', method: 'GET', path: '/things/mine' },
    { name: 'update', method: 'PATCH', path: '/things/{id}' },
  ] as const;
  const small = routeMatcher(table);

  test('a literal segment beats a parameter, wherever the table lists it', () => {
    expect(hit(small('GET', '/things/mine')).route.name).toBe('mine');
    expect(hit(small('GET', '/things/other'))).toEqual({ route: table[0], pathParameters: { id: 'other' } });
  });

  test('Allow lists each method once, though two templates match', () => {
    expect(small('DELETE', '/things/mine')).toEqual({ status: 405, allow: ['GET', 'HEAD', 'PATCH'] });
  });
});

describe('the route list (the catch-all reads it from its environment)', () => {
  test('round-trips every method and path of the table, in order', () => {
    const list = routeListOf(routeTable);
    expect(routesOfList(list)).toEqual(routeTable.map(({ method, path }) => ({ method, path })));
    // Well inside Lambda's 4 KB for all of a function's variables, with the rest of the environment.
    expect(Buffer.byteLength(list)).toBeLessThan(2048);
  });

  test('a malformed line is refused, not skipped', () => {
    expect(() => routesOfList('GET /v1/a\nFETCH /v1/b')).toThrow('malformed route line: FETCH /v1/b');
    expect(() => routesOfList('GET v1/a')).toThrow('malformed route line');
    expect(() => routesOfList('GET /v1/a extra')).toThrow('malformed route line');
  });
});
