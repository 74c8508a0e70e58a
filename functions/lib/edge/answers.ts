/**
 * What every HTTP answer of the API shares: JSON bodies, the one error body, the status of each
 * error code, and correlation (`x-request-id`). Apart from `http.ts` so that a function that
 * needs no container (the `$default` catch-all) answers the same way without loading it.
 */
import { randomUUID } from 'node:crypto';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { RawJson } from '../api/raw-json.ts';
import { RateLimitedError, type SluiceError } from '../core/errors.ts';
import { logger } from './observability.ts';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;

/** The status of each domain error's code (`method_not_allowed` is no domain error: only `no-route.ts` answers it). */
export const statusOf: Readonly<Record<string, number>> = {
  invalid_json: 400,
  validation_failed: 400,
  forbidden_destination: 400,
  unauthorized: 401,
  forbidden_scope: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  idempotency_key_reused: 422,
  unknown_event_type: 422,
  schema_mismatch: 422,
  rate_limited: 429,
};

export function json(status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): HttpResult {
  // No body, no content type: a 204 says nothing about a representation it does not have.
  if (body === undefined) return { statusCode: status, headers: { ...headers } };
  return { statusCode: status, headers: { 'content-type': 'application/json', ...headers }, body: stringify(body) };
}

/** `JSON.stringify`, with each `RawJson` written as its own text (a placeholder no client can guess, then spliced). */
function stringify(body: unknown): string {
  const raws: string[] = [];
  const marker = `raw-json-${randomUUID()}-`;
  const text = JSON.stringify(body, (_key, value: unknown) => (value instanceof RawJson ? `${marker}${raws.push(value.text) - 1}` : value));
  if (raws.length === 0) return text;
  return text.replace(new RegExp(`"${marker}(\\d+)"`, 'g'), (_match, index: string) => raws[Number(index)] ?? 'null');
}

/** Headers an error answer carries: `Retry-After` on every 429, so a client knows when to come back. */
export function errorHeaders(error: SluiceError): Record<string, string> {
  return error instanceof RateLimitedError ? { 'retry-after': String(error.retryAfterSeconds) } : {};
}

/** `{error: {code, message, details?, requestId?}}`: every error answer of the management API. */
export function errorBody(code: string, message: string, requestId: string | undefined, details?: SluiceError['details']) {
  return { error: { code, message, ...(details && { details }), ...(requestId && { requestId }) } };
}

export function errorResult(error: SluiceError, requestId?: string): HttpResult {
  return json(statusOf[error.code] ?? 400, errorBody(error.code, error.message, requestId, error.details), errorHeaders(error));
}

/** A request id a client may choose: short, printable, no spaces (it is logged and echoed). */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{8,128}$/;

/** The request's id: the client's `x-request-id` when well-formed, otherwise API Gateway's (or the invocation's). */
export function requestIdOf(event: HttpEvent, context: Context): string {
  const given = event.headers?.['x-request-id'];
  if (given && CLIENT_REQUEST_ID.test(given)) return given;
  return event.requestContext?.requestId || context.awsRequestId || randomUUID();
}

export type CorrelatedContext = Context & { requestId?: string };

/**
 * Correlation: every answer carries `x-request-id`, the JSON log lines of the request carry
 * `requestId`, and so do error bodies, so a client's report leads straight to the log.
 */
export function correlate(): MiddlewareObj<HttpEvent, HttpResult, Error, CorrelatedContext> {
  const stamp = (request: { event: HttpEvent; response: HttpResult | null | undefined; context: CorrelatedContext }) => {
    if (!request.response || !request.context.requestId) return;
    const { body, ...rest } = request.response;
    // HEAD is GET without the body, errors included (its headers, content-type too, stay).
    const head = request.event.requestContext?.http?.method === 'HEAD';
    request.response = {
      ...rest,
      ...(!head && body !== undefined && { body }),
      headers: { ...request.response.headers, 'x-request-id': request.context.requestId },
    };
  };
  return {
    before: async (request) => {
      request.context.requestId = requestIdOf(request.event, request.context);
      logger.appendKeys({ requestId: request.context.requestId });
    },
    after: async (request) => stamp(request),
    onError: async (request) => stamp(request),
  };
}
