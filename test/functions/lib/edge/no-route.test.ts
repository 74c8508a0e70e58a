/**
 * The `$default` catch-all (`functions/no-route.ts`): the API's own JSON 404 and 405, with the
 * correlation every answer has, from the route table alone (its bundle holds no container).
 */
import path from 'node:path';
import type { Context } from 'aws-lambda';
import { build } from 'esbuild';
import type { HttpEvent, HttpResult } from '../../../../functions/lib/edge/answers.ts';
import { statusOf } from '../../../../functions/lib/edge/answers.ts';
import { noRouteHandler } from '../../../../functions/lib/edge/no-route.ts';
import { envNames } from '../../../../functions/lib/env-names.ts';
import { handler } from '../../../../functions/no-route.ts';
import { noRouteEnvironment } from '../../../../infra/description.ts';

const context = { functionName: 'no-route', awsRequestId: 'invocation-1' } as unknown as Context;

function event(method: string, rawPath: string, headers: Record<string, string> = {}): HttpEvent {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: '',
    headers,
    requestContext: { requestId: 'apigw-req-0001', routeKey: '$default', http: { method, path: rawPath, sourceIp: '203.0.113.7' } },
    isBase64Encoded: false,
  } as unknown as HttpEvent;
}

async function answer(method: string, rawPath: string, headers: Record<string, string> = {}) {
  const result = (await handler(event(method, rawPath, headers), context)) as HttpResult;
  return { ...result, json: result.body === undefined ? undefined : (JSON.parse(result.body) as { error: Record<string, string> }) };
}

describe('no-route', () => {
  // As the stack (and the local stack) sets it: the route list derived from the route declarations.
  beforeAll(() => Object.assign(process.env, noRouteEnvironment));

  test('an unknown path: 404 not_found naming the OpenAPI document, with the request id in the header and the body', async () => {
    const result = await answer('GET', '/x');
    expect(result.statusCode).toBe(404);
    expect(result.headers).toMatchObject({ 'content-type': 'application/json', 'x-request-id': 'apigw-req-0001' });
    expect(result.json).toEqual({
      error: { code: 'not_found', message: 'no route for GET /x; see GET /v1/openapi.json', requestId: 'apigw-req-0001' },
    });
    expect(result.headers).not.toHaveProperty('allow');
  });

  test('a known path with another method: 405 method_not_allowed with Allow, HEAD named with GET', async () => {
    const result = await answer('PUT', '/v1/messages');
    expect(result.statusCode).toBe(405);
    expect(result.headers).toMatchObject({ allow: 'POST, GET, HEAD', 'x-request-id': 'apigw-req-0001' });
    expect(result.json?.error).toEqual({
      code: 'method_not_allowed',
      message: 'PUT is not allowed on /v1/messages; use POST, GET, HEAD',
      requestId: 'apigw-req-0001',
    });
  });

  test('a path with a parameter: 405 for its missing methods', async () => {
    const result = await answer('POST', '/v1/endpoints/ep_01ZZ');
    expect(result.statusCode).toBe(405);
    expect(result.headers?.allow).toBe('GET, HEAD, PATCH, DELETE');
    expect(result.json?.error.code).toBe('method_not_allowed');
  });

  test('not_found has the status it has for every other error', async () => {
    expect(statusOf[(await answer('GET', '/nowhere')).json?.error.code ?? '']).toBe(404);
  });

  test('a trailing slash or a percent-encoded literal segment is another path: 404', async () => {
    expect((await answer('GET', '/v1/messages/')).statusCode).toBe(404);
    expect((await answer('GET', '/v1/%6Dessages')).statusCode).toBe(404);
    // An encoded parameter still names a path the table has.
    expect((await answer('PUT', '/v1/endpoints/ep%2F1')).statusCode).toBe(405);
  });

  test("a client's well-formed x-request-id is kept", async () => {
    const result = await answer('GET', '/x', { 'x-request-id': 'trace-0123456789' });
    expect(result.headers?.['x-request-id']).toBe('trace-0123456789');
    expect(result.json?.error.requestId).toBe('trace-0123456789');
  });

  test('HEAD: the same status and headers, no body', async () => {
    const unknown = await answer('HEAD', '/x');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.body).toBeUndefined();
    expect(unknown.headers).toMatchObject({ 'content-type': 'application/json', 'x-request-id': 'apigw-req-0001' });
    const refused = await answer('HEAD', '/v1/dead-letters/redrive');
    expect(refused.statusCode).toBe(405);
    expect(refused.headers?.allow).toBe('POST');
    expect(refused.body).toBeUndefined();
  });

  test('a request the route table does match (API Gateway and the table disagree) is still a 404: nothing serves it', async () => {
    expect((await answer('GET', '/v1/messages')).statusCode).toBe(404);
  });

  test('without its route list (a broken deploy) every invocation fails naming the variable, rather than guessing 404', async () => {
    const broken = noRouteHandler({});
    await expect(broken(event('GET', '/x'), context)).rejects.toThrow(`${envNames.routeList} is not set`);
  });

  test('its bundle loads no container, no AWS SDK and no zod: it answers from the route table alone', async () => {
    const bundled = await build({
      entryPoints: [path.join(process.cwd(), 'functions', 'no-route.ts')],
      bundle: true,
      write: false,
      metafile: true,
      platform: 'node',
      format: 'esm',
      logLevel: 'silent',
    });
    const inputs = Object.keys(bundled.metafile.inputs);
    expect(inputs).toContain('functions/lib/api/route-table.ts');
    expect(inputs.filter((input) => /functions\/lib\/container\.ts|node_modules\/(@aws-sdk|zod)\//.test(input))).toEqual([]);
  }, 30_000);
});
