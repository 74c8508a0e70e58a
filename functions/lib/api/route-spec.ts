import * as z from 'zod';
import type { RouteAccess } from '../core/access.ts';
import type { CreatedWindow } from '../core/created-window.ts';
import type { PortalAccess } from '../core/portal-sessions.ts';
import type { ResourceUse } from '../resource-use.ts';
import { corsOriginPattern, type HttpMethod } from './route-table.ts';

export interface ResponseSpec {
  readonly description: string;
  readonly schema?: z.ZodType;
  /** Response headers worth declaring, by name, with what they say. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface RouteSpec<
  B extends z.ZodType | undefined = z.ZodType | undefined,
  Q extends z.ZodType | undefined = z.ZodType | undefined,
  P extends z.ZodType | undefined = z.ZodType | undefined,
  A extends RouteAccess = RouteAccess,
> {
  /** The Lambda entry that serves it: `functions/<name>.ts`, and the OpenAPI `operationId`. */
  readonly name: string;
  readonly method: HttpMethod;
  /** API Gateway's path template: `{id}` matches one segment. */
  readonly path: string;
  /** What the route does with the ledger and the queues beyond authenticating: its IAM grants (infra/access.ts). */
  readonly uses: ResourceUse;
  readonly summary: string;
  readonly description?: string;
  readonly tag: string;
  /** Who may call: a tenant's key with one of these scopes (or `admin`), the root key, or anyone. */
  readonly access: A;
  /**
   * What a portal session needs here, when not what the method implies (GET: `read`, else
   * `manage`; `portalAccessOf`): `manage` for a GET that reveals a secret, `never` for what is the
   * vendor's alone (sending messages, minting keys and sessions, the event catalog).
   */
  readonly portal?: PortalAccess;
  /** The root key may call this tenant route too, naming the tenant in the request. */
  readonly rootActsForTenant?: boolean;
  readonly body?: B;
  readonly query?: Q;
  readonly params?: P;
  /** Raw body limit before parsing; 64 KiB unless the route says otherwise. */
  readonly maxBodyBytes?: number;
  /** Headers the route reads, for the OpenAPI document. */
  readonly headers?: z.ZodObject;
  /**
   * A POST that creates something: an `Idempotency-Key` makes a repeat of the same request
   * answer the first answer for 24 h (`idempotent-replayed: true`).
   */
  readonly idempotent?: boolean;
  /** A public route that authenticates its own way: the inbound hooks' key in a header or the query. */
  readonly hookKey?: 'header' | 'query';
  readonly responses: Readonly<Record<number, ResponseSpec>>;
}

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

/** A comma-separated list of browser origins (CORS configuration), each `scheme://host[:port]`. */
export const CorsOrigins = z
  .string()
  .default('')
  .transform((value) =>
    value
      .split(',')
      .map((origin) => origin.trim().toLowerCase())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(corsOriginPattern, 'each CORS origin is scheme://host[:port], such as https://app.example.com')));

/** The `Idempotency-Key` request header, as every route that honours it declares it. */
export const IdempotencyKeyHeader = z.object({
  'idempotency-key': z.string().min(1).max(256).optional().meta({
    description:
      'A repeat of the same request with the same key within 24 h answers the first answer, with `idempotent-replayed: true`; the key on a different request is 422',
  }),
});

/**
 * Deepest nesting of objects and arrays any JSON body may have, checked before parsing so no
 * recursive walk can exhaust the stack (System.Text.Json's default, and far beyond real events).
 */
export const MAX_JSON_DEPTH = 64;

/**
 * A route, declared once: method, path, access, request schemas, responses and what it uses. The
 * route table, the OpenAPI document, the local HTTP API, the CDK routes and the function's IAM
 * grants are all derived from these declarations (`routes.ts`).
 */
export function defineRoute<
  B extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  P extends z.ZodType | undefined = undefined,
  const A extends RouteAccess = RouteAccess,
>(spec: RouteSpec<B, Q, P, A>): RouteSpec<B, Q, P, A> {
  return spec;
}

export type Infer<T> = T extends z.ZodType ? z.infer<T> : undefined;

/** The tenant a route acts for: every scoped route is called with a tenant's key; root and public routes have none. */
export type TenantOf<A extends RouteAccess> = A extends readonly unknown[] ? string : undefined;

// Shared pieces of the contract.

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Any JSON object, passed through as parsed and never copied: zod's records rebuild the object,
 * which silently drops a `__proto__` key, and a payload must reach its receivers as it was sent.
 */
export function jsonObject(description: string) {
  return z.custom<Record<string, unknown>>(isJsonObject, 'expected a JSON object').meta({
    type: 'object',
    additionalProperties: {},
    description,
  } as never);
}

/**
 * A zod record that refuses a `__proto__` key with a clear issue instead of dropping it (a
 * rebuilt object cannot hold one as data).
 */
export function recordOf<K extends z.ZodType<string, string>, V extends z.ZodType>(key: K, value: V) {
  return z.preprocess(
    (input: unknown, context) => {
      if (isJsonObject(input) && Object.hasOwn(input, '__proto__')) {
        context.addIssue({ code: 'custom', message: "'__proto__' cannot be a key here: choose another name", path: ['__proto__'] });
      }
      return input;
    },
    z.record(key, value),
  );
}

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().meta({ example: 'validation_failed' }),
      message: z.string().meta({ description: 'What is wrong and how to fix it.' }),
      details: z.array(z.object({ path: z.string().optional(), message: z.string() })).optional(),
      requestId: z.string().optional().meta({ description: 'The `x-request-id` of this answer: quote it when reporting a problem' }),
    }),
  })
  .meta({ id: 'Error' });

export const PageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().min(1).max(2048).optional(),
});

/**
 * The history lists (messages, deliveries, dead letters, the inbox) page by `cursor` within an
 * optional window of creation time, `[after, before)`: keep the window unchanged across pages.
 */
export const HistoryPageQuery = PageQuery.extend({
  after: z.iso
    .datetime({ offset: true })
    .optional()
    .meta({ description: 'Only items created at or after this time (inclusive)', example: '2026-11-24T00:00:00Z' }),
  before: z.iso
    .datetime({ offset: true })
    .optional()
    .meta({ description: 'Only items created before this time (exclusive)', example: '2026-11-25T00:00:00Z' }),
});

/** The window of a history list's query, as the core takes it. */
export function createdWindowOf(query: { readonly after?: string; readonly before?: string }): CreatedWindow {
  return { ...(query.after && { after: new Date(query.after) }), ...(query.before && { before: new Date(query.before) }) };
}

export const IdParams = z.strictObject({ id: z.string().min(1).max(64) });

export function pageOf<T extends z.ZodType>(item: T, id: string) {
  return z
    .object({
      data: z.array(item),
      done: z.boolean().meta({ description: 'True on the last page: there is nothing after it' }),
      nextCursor: z.string().optional().meta({ description: 'Present unless done: pass it as `cursor` for the next page' }),
    })
    .meta({ id });
}

export const errorResponses = {
  400: { description: 'Malformed JSON or a request that fails validation', schema: ErrorBody },
  401: { description: 'Missing or unknown API key', schema: ErrorBody },
  403: { description: 'The key lacks the scope this route needs', schema: ErrorBody },
} as const;

export const notFound = { 404: { description: 'No such resource in this tenant', schema: ErrorBody } } as const;
