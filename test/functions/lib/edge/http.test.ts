import * as errors from '../../../../functions/lib/core/errors.ts';
import {
  ConflictError,
  ForbiddenDestinationError,
  ForbiddenScopeError,
  InvalidJsonError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  SchemaMismatchError,
  SluiceError,
  UnauthorizedError,
  UnknownEventTypeError,
  ValidationError,
} from '../../../../functions/lib/core/errors.ts';
import { errorResult, json, page, statusOf } from '../../../../functions/lib/edge/http.ts';

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
  test.each(cases)('%p: status and the {error:{code,message}} body', (error, status) => {
    const result = errorResult(error);
    expect(result.statusCode).toBe(status);
    expect(result.headers).toEqual({ 'content-type': 'application/json' });
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

  test('page wraps items as {data, nextCursor?}', () => {
    expect(page({ items: [1, 2], nextCursor: 'c' }, (n) => n * 10)).toEqual({ data: [10, 20], nextCursor: 'c' });
    expect(page({ items: [] }, (n: number) => n)).toEqual({ data: [] });
  });
});
