import { handler as createMessageHandler } from '../../../../functions/create-message.ts';
import * as errors from '../../../../functions/lib/core/errors.ts';
import {
  ConflictError,
  ForbiddenDestinationError,
  ForbiddenScopeError,
  IdempotencyKeyReusedError,
  InvalidJsonError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  SchemaMismatchError,
  SluiceError,
  UnauthorizedError,
  UnknownEventTypeError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../../../../functions/lib/core/errors.ts';
import type { MessageService } from '../../../../functions/lib/core/messages.ts';
import type { Principal } from '../../../../functions/lib/core/model.ts';
import { errorHeaders, errorResult, type HttpEvent, json, statusOf } from '../../../../functions/lib/edge/answers.ts';
import { page } from '../../../../functions/lib/edge/http.ts';
import { handler as listMessagesHandler } from '../../../../functions/list-messages.ts';

// The HTTP handlers build their services over AWS from the environment; here each part the edge
// or an entry uses is a stub with only what a test needs (the variable's `mock` prefix lets jest's
// hoisted factory refer to it).
const mockApp: { current: Record<string, unknown> | undefined } = { current: undefined };
jest.mock('../../../../functions/lib/container.ts', () => {
  const stubbed = (name: string) => async () => {
    if (!mockApp.current) throw new Error('no app stubbed for this test');
    return mockApp.current[name];
  };
  return {
    access: stubbed('access'),
    idempotency: stubbed('idempotency'),
    messages: stubbed('messages'),
    messageLog: stubbed('messageLog'),
    use: async (part: () => Promise<unknown>) => part(),
  };
});

/** One instance of every SluiceError subclass, with the status contract §8 (and §3) gives it. */
const cases: readonly [SluiceError, number][] = [
  [new InvalidJsonError('bad json'), 400],
  [new ValidationError('bad input'), 400],
  [new ForbiddenDestinationError('private address'), 400],
  [new UnauthorizedError('no key'), 401],
  [new ForbiddenScopeError('wrong scope'), 403],
  [new NotFoundError('endpoint', 'ep_1'), 404],
  [new ConflictError('exists'), 409],
  [new PayloadTooLargeError('too big'), 413],
  [new UnsupportedMediaTypeError('form'), 415],
  [new IdempotencyKeyReusedError('other body'), 422],
  [new UnknownEventTypeError('lock.unlocked'), 422],
  [new SchemaMismatchError('does not match'), 422],
  [new RateLimitedError('slow down'), 429],
];

function parseBody(body: string | undefined): unknown {
  if (body === undefined) throw new Error('no body');
  return JSON.parse(body);
}

describe('statusOf', () => {
  test('the cases above cover every SluiceError subclass that errors.ts exports', () => {
    const exported = Object.values(errors).filter(
      (value): value is typeof InvalidJsonError => typeof value === 'function' && value.prototype instanceof SluiceError,
    );
    expect(new Set(cases.map(([error]) => error.constructor))).toEqual(new Set(exported));
  });

  test.each(cases.map(([error, status]) => [error.code, status, error] as const))('%s maps to %i', (code, status) => {
    expect(statusOf[code]).toBe(status);
  });

  test('every code is snake_case', () => {
    for (const [error] of cases) expect(error.code).toMatch(/^[a-z]+(_[a-z]+)*$/);
  });

  test('statusOf has no codes that no error carries', () => {
    expect(Object.keys(statusOf).sort()).toEqual(cases.map(([error]) => error.code).sort());
  });
});

describe('errorResult', () => {
  test.each(cases)('%p: status and the {error:{code,message}} body (and Retry-After on a 429 only)', (error, status) => {
    const result = errorResult(error);
    expect(result.statusCode).toBe(status);
    expect(result.headers).toEqual({ 'content-type': 'application/json', ...(status === 429 && { 'retry-after': '1' }) });
    expect(parseBody(result.body)).toEqual({ error: { code: error.code, message: error.message } });
  });

  test('details are included when the error has them', () => {
    const details = [{ path: 'payload.a.b', message: 'must be integer' }, { message: 'something general' }];
    const result = errorResult(new SchemaMismatchError("payload does not match the schema of 'x'", details));
    expect(result.statusCode).toBe(422);
    expect(parseBody(result.body)).toEqual({
      error: { code: 'schema_mismatch', message: "payload does not match the schema of 'x'", details },
    });
  });

  test('messages say what to fix', () => {
    expect(parseBody(errorResult(new NotFoundError('endpoint', 'ep_1')).body)).toEqual({
      error: { code: 'not_found', message: "endpoint 'ep_1' does not exist" },
    });
    const unknown = parseBody(errorResult(new UnknownEventTypeError('lock.unlocked')).body) as { error: { message: string } };
    expect(unknown.error.message).toContain('PUT /v1/event-types/lock.unlocked');
  });

  test('an error subclass with an unmapped code falls back to 400', () => {
    class TeapotError extends SluiceError {
      readonly code = 'teapot';
    }
    expect(errorResult(new TeapotError('short and stout')).statusCode).toBe(400);
  });
});

describe('Retry-After on a 429', () => {
  test('RateLimitedError carries whole seconds, at least 1: 1 unless told, fractions rounded up', () => {
    expect(new RateLimitedError('slow down').retryAfterSeconds).toBe(1);
    expect(new RateLimitedError('slow down', 3).retryAfterSeconds).toBe(3);
    expect(new RateLimitedError('slow down', 2.2).retryAfterSeconds).toBe(3);
    expect(new RateLimitedError('slow down', 0.05).retryAfterSeconds).toBe(1);
    expect(new RateLimitedError('slow down', 0).retryAfterSeconds).toBe(1);
    expect(new RateLimitedError('slow down', -4).retryAfterSeconds).toBe(1);
  });

  test('errorResult sends the error’s retryAfterSeconds as the retry-after header, beside the usual body', () => {
    const error = new RateLimitedError('this tenant is over its ingest budget', 7);
    const result = errorResult(error);
    expect(result.statusCode).toBe(429);
    expect(result.headers).toEqual({ 'content-type': 'application/json', 'retry-after': '7' });
    expect(parseBody(result.body)).toEqual({ error: { code: 'rate_limited', message: 'this tenant is over its ingest budget' } });
  });

  test('errorHeaders is empty for every error that is not a 429', () => {
    for (const [error, status] of cases) {
      expect(errorHeaders(error)).toEqual(status === 429 ? { 'retry-after': String((error as RateLimitedError).retryAfterSeconds) } : {});
    }
  });

  test('a handler whose core refuses with RateLimitedError answers 429 with retry-after (POST /v1/messages over its budget)', async () => {
    const principal: Principal = { kind: 'tenant', tenantId: 'ten_A', keyId: 'key_A', scopes: ['ingest'] };
    const ingest = jest.fn<ReturnType<MessageService['ingest']>, Parameters<MessageService['ingest']>>(async () => {
      throw new RateLimitedError('this tenant is over its ingest budget; retry in 0.25 s', 0.25);
    });
    mockApp.current = {
      access: { authenticate: async () => principal },
      messages: { ingest },
    };
    const event = {
      version: '2.0',
      routeKey: 'POST /v1/messages',
      rawPath: '/v1/messages',
      rawQueryString: '',
      headers: { authorization: 'Bearer sk_test', 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'lock.unlocked', payload: { lockId: 'L-1' } }),
      isBase64Encoded: false,
      requestContext: { http: { method: 'POST', path: '/v1/messages', sourceIp: '203.0.113.7' } },
    } as unknown as HttpEvent;
    const context = { functionName: 'create-message', awsRequestId: 'req-1' } as unknown as Parameters<typeof createMessageHandler>[1];
    const result = await createMessageHandler(event, context);
    expect(ingest).toHaveBeenCalledWith('ten_A', 'lock.unlocked', { value: { lockId: 'L-1' }, text: '{"lockId":"L-1"}' }, {});
    expect(result).toEqual({
      statusCode: 429,
      headers: { 'content-type': 'application/json', 'retry-after': '1', 'x-request-id': 'req-1' },
      body: JSON.stringify({
        error: { code: 'rate_limited', message: 'this tenant is over its ingest budget; retry in 0.25 s', requestId: 'req-1' },
      }),
    });
  });
});

describe('json and page helpers', () => {
  test('json sets the status, the content type, extra headers and a JSON body', () => {
    expect(json(201, { id: 'ep_1' }, { location: '/v1/endpoints/ep_1' })).toEqual({
      statusCode: 201,
      headers: { 'content-type': 'application/json', location: '/v1/endpoints/ep_1' },
      body: '{"id":"ep_1"}',
    });
  });

  test('json without a body has none', () => {
    expect(json(204, undefined).body).toBeUndefined();
  });

  test('page wraps items as {data, done, nextCursor?}', () => {
    expect(page({ items: [1, 2], nextCursor: 'c' }, (n) => n * 10)).toEqual({ data: [10, 20], done: false, nextCursor: 'c' });
    expect(page({ items: [] }, (n: number) => n)).toEqual({ data: [], done: true });
  });
});

describe('HTTP conventions at the edge', () => {
  const principal: Principal = { kind: 'tenant', tenantId: 'ten_A', keyId: 'key_A', scopes: ['ingest'] };
  const context = { functionName: 'create-message', awsRequestId: 'aws-req-0001' } as unknown as Parameters<typeof createMessageHandler>[1];
  const post = (headers: Record<string, string> = {}, body = JSON.stringify({ type: 'lock.unlocked', payload: {} })) =>
    ({
      version: '2.0',
      routeKey: 'POST /v1/messages',
      rawPath: '/v1/messages',
      rawQueryString: '',
      headers: { authorization: 'Bearer sk_test', 'content-type': 'application/json', ...headers },
      body,
      isBase64Encoded: false,
      requestContext: { requestId: 'apigw-req-0001', http: { method: 'POST', path: '/v1/messages', sourceIp: '203.0.113.7' } },
    }) as unknown as HttpEvent;
  const withIngest = (ingest: MessageService['ingest']) => {
    mockApp.current = {
      access: { authenticate: async () => principal },
      messages: { ingest },
    };
  };

  test('a dependency outage (connection refused, throttling) is 503 service_unavailable with Retry-After, not 500', async () => {
    for (const outage of [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ThrottlingException', $fault: 'client' }),
      Object.assign(new Error('fetch failed'), { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) }),
    ]) {
      withIngest(async () => {
        throw outage;
      });
      const result = await createMessageHandler(post(), context);
      expect(result).toMatchObject({ statusCode: 503, headers: { 'retry-after': '1', 'x-request-id': 'apigw-req-0001' } });
      expect(parseBody(result.body)).toEqual({
        error: { code: 'service_unavailable', message: expect.stringMatching(/retry in 1 s/), requestId: 'apigw-req-0001' },
      });
    }
  });

  test('a bug is still 500 internal_error, and no longer claims a retry is safe', async () => {
    withIngest(async () => {
      throw new TypeError('undefined is not a function');
    });
    const result = await createMessageHandler(post(), context);
    expect(result.statusCode).toBe(500);
    expect(JSON.stringify(parseBody(result.body))).not.toMatch(/safe to retry/);
  });

  test('a well-formed x-request-id is kept and echoed; a malformed one is replaced', async () => {
    withIngest(async () => {
      throw new ValidationError('nope');
    });
    const kept = await createMessageHandler(post({ 'x-request-id': 'client-trace-42:abc' }), context);
    expect(kept.headers?.['x-request-id']).toBe('client-trace-42:abc');
    expect(parseBody(kept.body)).toMatchObject({ error: { requestId: 'client-trace-42:abc' } });
    const replaced = await createMessageHandler(post({ 'x-request-id': 'bad id with spaces\r\n' }), context);
    expect(replaced.headers?.['x-request-id']).toBe('apigw-req-0001');
  });

  test('a body that is not JSON by content type is 415 unsupported_media_type', async () => {
    withIngest(async () => {
      throw new Error('not reached');
    });
    const result = await createMessageHandler(post({ 'content-type': 'text/plain' }), context);
    expect(result.statusCode).toBe(415);
    expect(parseBody(result.body)).toMatchObject({
      error: { code: 'unsupported_media_type', message: expect.stringMatching(/application\/json/) },
    });
  });

  test('an answer without a body has no content-type', () => {
    expect(json(204, undefined)).toEqual({ statusCode: 204, headers: {} });
  });
});

describe('HEAD', () => {
  test('a HEAD answer has the headers of the GET and no body, for errors too', async () => {
    mockApp.current = { access: { authenticate: async () => ({ kind: 'root' }) } };
    const head = {
      version: '2.0',
      routeKey: 'HEAD /v1/messages',
      rawPath: '/v1/messages',
      rawQueryString: '',
      headers: { authorization: 'Bearer root_key' },
      isBase64Encoded: false,
      requestContext: { requestId: 'head-req-0001', http: { method: 'HEAD', path: '/v1/messages', sourceIp: '203.0.113.7' } },
    } as unknown as HttpEvent;
    const context = { functionName: 'list-messages', awsRequestId: 'aws-req-0002' } as unknown as Parameters<typeof listMessagesHandler>[1];
    const result = await listMessagesHandler(head, context);
    // The root key on a tenant route: 403, and still no body.
    expect(result).toEqual({ statusCode: 403, headers: { 'content-type': 'application/json', 'x-request-id': 'head-req-0001' } });
  });
});
