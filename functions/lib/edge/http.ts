/**
 * The HTTP edge: every API entry is `httpHandler(route, service, run)`, a middy chain that limits
 * the body size, authenticates, parses and validates with the route's zod schemas, builds the one
 * service the entry calls, maps domain errors to the contract's error body and logs with the
 * Lambda context. What every answer shares (JSON, the error body, `x-request-id`) is in `answers.ts`.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import type { Infer, RouteSpec, TenantOf } from '../api/route-spec.ts';
import { DEFAULT_MAX_BODY_BYTES, MAX_JSON_DEPTH } from '../api/route-spec.ts';
import { access, idempotency, type Part, use } from '../container.ts';
import { authorize, type RouteAccess, type RouteGate } from '../core/access.ts';
import { PayloadTooLargeError, SluiceError, UnsupportedMediaTypeError, ValidationError } from '../core/errors.ts';
import type { Principal } from '../core/model.ts';
import { correlate, errorBody, errorResult, type HttpEvent, type HttpResult, json } from './answers.ts';
import { type JsonText, parseJsonText } from './json-text.ts';
import { annotateTrace, logger, traceInvocations } from './observability.ts';
import { isDependencyOutage, OUTAGE_MESSAGE, outageHeaders } from './outage.ts';

type Schema = z.ZodType | undefined;

export interface HttpInput<S, B extends Schema, Q extends Schema, P extends Schema, A extends RouteAccess = RouteAccess> {
  /** The service the entry named, built on first use. */
  readonly service: S;
  readonly principal: Principal;
  /** The caller's tenant: set on every route a tenant's key calls (none on root and public routes). */
  readonly tenantId: TenantOf<A>;
  readonly body: Infer<B>;
  readonly query: Infer<Q>;
  readonly params: Infer<P>;
  /** The body as sent, for members that must be kept verbatim (a message's payload). */
  readonly json: JsonText | undefined;
  readonly event: HttpEvent;
}

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  /** A body that is not JSON (the portal's page), sent as it is under the `content-type` header given. */
  readonly text?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type AnyInput = HttpInput<unknown, Schema, Schema, Schema>;
type HttpContext = Context & { sluice: Partial<Mutable<Omit<AnyInput, 'event' | 'service'>>>; requestId?: string };
type Middleware = MiddlewareObj<HttpEvent, HttpResult, Error, HttpContext>;

/**
 * Domain errors become the contract's error body. A dependency that is briefly unreachable or
 * throttling is a 503 with `Retry-After` (try again soon); anything else is a logged 500 with no
 * internals, which is not worth retrying blindly.
 */
function mapErrors(): Middleware {
  return {
    onError: async (request) => {
      const { error } = request;
      const requestId = request.context.requestId;
      if (error instanceof SluiceError) {
        request.response = errorResult(error, requestId);
        return;
      }
      if (isDependencyOutage(error)) {
        logger.warn('dependency unavailable', { error: error as Error });
        request.response = json(503, errorBody('service_unavailable', OUTAGE_MESSAGE, requestId), outageHeaders);
        return;
      }
      logger.error('unhandled error', { error: error as Error });
      request.response = json(
        500,
        errorBody('internal_error', 'Sluice could not complete the request; the error is logged under this request id', requestId),
      );
    },
  };
}

function rawBody(event: HttpEvent): string | undefined {
  if (event.body === undefined || event.body === null) return undefined;
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

function limitBodySize(spec: RouteSpec): Middleware {
  const limit = spec.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return {
    before: async (request) => {
      const body = request.event.body;
      if (!body) return;
      const bytes = request.event.isBase64Encoded ? Math.floor((body.length * 3) / 4) : Buffer.byteLength(body, 'utf8');
      if (bytes > limit) throw new PayloadTooLargeError(`request body is ${bytes} bytes; this route accepts at most ${limit} bytes`);
    },
  };
}

function authenticate(spec: RouteSpec): Middleware {
  // Who may pass, fixed with the route: nothing for a public one.
  const gate: RouteGate | undefined = spec.access === 'public' ? undefined : { ...spec, access: spec.access };
  return {
    before: async (request) => {
      annotateTrace({ route: spec.name });
      request.context.sluice = {};
      if (!gate) return;
      const header = request.event.headers?.authorization;
      const key = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
      const principal = authorize(await (await use(access)).authenticate(key), gate);
      const tenantId = principal.kind === 'tenant' ? principal.tenantId : undefined;
      request.context.sluice.principal = principal;
      request.context.sluice.tenantId = tenantId;
      annotateTrace({ tenantId });
    },
  };
}

function issuesOf(error: z.ZodError, prefix: string): { path: string; message: string }[] {
  const pathOf = (segments: readonly PropertyKey[]) => [prefix, ...segments.map(String)].filter(Boolean).join('.');
  return error.issues.flatMap((issue) =>
    // One detail per unknown field, at its own path, so the caller sees exactly what to remove.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: pathOf([...issue.path, key]), message: 'unknown field: remove it' }))
      : issue.code === 'invalid_key'
        ? // A record's key failed its rule: say which rule, not zod's generic "Invalid key in record".
          [{ path: pathOf(issue.path), message: issue.issues.map((inner) => inner.message).join('; ') }]
        : [{ path: pathOf(issue.path), message: issue.message }],
  );
}

function validate<T extends z.ZodType>(schema: T, value: unknown, prefix: string, what: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details = issuesOf(result.error, prefix);
  throw new ValidationError(`${what} is not valid: ${details.map((d) => `${d.path || 'body'}: ${d.message}`).join('; ')}`, details);
}

function parseInput(spec: RouteSpec): Middleware {
  return {
    before: async (request) => {
      const { event } = request;
      const input = request.context.sluice;
      if (spec.body) {
        const text = rawBody(event);
        if (text === undefined || text.trim() === '') {
          // A body whose fields are all optional may be left out (`POST /v1/dead-letters/redrive`: redrive all).
          if (!spec.body.safeParse({}).success) throw new ValidationError('a JSON request body is required');
          input.body = validate(spec.body, {}, '', 'the request body');
        } else {
          const contentType = event.headers?.['content-type'];
          if (contentType && !/^application\/([a-z.+-]*\+)?json\b/i.test(contentType)) {
            throw new UnsupportedMediaTypeError(`send the body as application/json (got '${contentType}')`);
          }
          input.json = parseJsonText(text, MAX_JSON_DEPTH);
          input.body = validate(spec.body, input.json.value, '', 'the request body');
        }
      }
      if (spec.query) input.query = validate(spec.query, event.queryStringParameters ?? {}, 'query', 'the query string');
      if (spec.params) input.params = validate(spec.params, decodeParams(event.pathParameters), '', 'the path');
    },
  };
}

function idempotencyKeyOf(event: HttpEvent): string | undefined {
  const key = event.headers?.['idempotency-key'];
  if (key === undefined) return undefined;
  if (key.length < 1 || key.length > 256) {
    throw new ValidationError('Idempotency-Key must be 1 to 256 characters', [{ path: 'idempotency-key', message: '1 to 256 characters' }]);
  }
  return key;
}

function decodeParams(params: Record<string, string | undefined> | undefined): Record<string, string> {
  const decoded: Record<string, string> = {};
  for (const [name, value] of Object.entries(params ?? {})) {
    if (value === undefined) continue;
    try {
      decoded[name] = decodeURIComponent(value);
    } catch {
      throw new ValidationError(`the path's ${name} is not valid percent-encoding: encode it with encodeURIComponent`, [
        { path: name, message: 'malformed percent-encoding' },
      ]);
    }
  }
  return decoded;
}

/** For an entry that calls no service (the OpenAPI document). */
export const noService: Part<undefined> = async () => undefined;

export function httpHandler<S, B extends Schema, Q extends Schema, P extends Schema, A extends RouteAccess>(
  spec: RouteSpec<B, Q, P, A>,
  service: Part<S>,
  run: (input: HttpInput<S, B, Q, P, A>) => Promise<Reply>,
) {
  return middy<HttpEvent, HttpResult, Error, HttpContext>()
    .use(traceInvocations())
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(correlate())
    .use(mapErrors())
    .use(limitBodySize(spec))
    .use(authenticate(spec))
    .use(parseInput(spec))
    .handler(async (event, context) => {
      const input = {
        ...(context.sluice as Omit<HttpInput<S, B, Q, P, A>, 'event' | 'service'>),
        service: service === noService ? (undefined as S) : await use(service),
        event,
      };
      const execute = async (): Promise<HttpResult> => {
        const reply = await run(input);
        if (reply.text !== undefined) return { statusCode: reply.status, headers: { ...reply.headers }, body: reply.text };
        return json(reply.status, reply.body, reply.headers);
      };
      const key = spec.idempotent ? idempotencyKeyOf(event) : undefined;
      const result =
        key === undefined
          ? await execute()
          : await (await use(idempotency)).run(
              {
                scope: input.principal.kind === 'root' ? 'root' : input.principal.tenantId,
                route: spec.name,
                key,
                request: { method: event.requestContext?.http?.method ?? spec.method, path: event.rawPath, body: rawBody(event) ?? '' },
              },
              context,
              execute,
            );
      return result;
    });
}

/**
 * The URL the caller reached this API on, so a URL Sluice hands out (a trigger URL, a portal
 * link) works from where they stand: API Gateway sets the scheme the client used, the local API says http.
 */
export function publicBaseUrl(event: HttpEvent): string {
  const proto = event.headers?.['x-forwarded-proto'] ?? 'https';
  return `${proto}://${event.requestContext.domainName}`;
}

/** `{ data, done, nextCursor? }`: the list shape of every paginated route; `done` says this is the last page. */
export function page<T, V>(result: { items: readonly T[]; nextCursor?: string }, view: (item: T) => V) {
  return { data: result.items.map(view), done: !result.nextCursor, ...(result.nextCursor && { nextCursor: result.nextCursor }) };
}
