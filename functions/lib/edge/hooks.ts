/**
 * The inbound-hook edge. Third parties call it with an API key in a header or the query string,
 * so it has its own chain: size limit, body or payload decoding, zod validation, and errors in
 * the §7 shape `{"message":"Error","error":…}` instead of the management API's.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { HookBody } from '../api/action-routes.ts';
import { MAX_JSON_DEPTH } from '../api/route-spec.ts';
import { hooks, use } from '../container.ts';
import { PayloadTooLargeError, SluiceError, UnauthorizedError, ValidationError } from '../core/errors.ts';
import { correlate, errorHeaders, type HttpEvent, type HttpResult, json, statusOf } from './answers.ts';
import { parseJsonText } from './json-text.ts';
import { logger, traceInvocations } from './observability.ts';
import { isDependencyOutage, OUTAGE_MESSAGE, outageHeaders } from './outage.ts';

/** Inbound calls are small commands; anything bigger is refused before it is parsed. */
export const MAX_HOOK_BYTES = 16 * 1024;

export interface HookRequest {
  readonly key: string | undefined;
  /** The JSON text of `{event_id, sensor_data?}`, from the body or the decoded payload. */
  readonly jsonText: string | undefined;
}

const hookErrors: MiddlewareObj<HttpEvent, HttpResult> = {
  onError: async (request) => {
    const { error } = request;
    if (error instanceof SluiceError) {
      request.response = json(statusOf[error.code] ?? 400, { message: 'Error', error: error.message }, errorHeaders(error));
      return;
    }
    if (isDependencyOutage(error)) {
      logger.warn('dependency unavailable', { error: error as Error });
      request.response = json(503, { message: 'Error', error: OUTAGE_MESSAGE }, outageHeaders);
      return;
    }
    logger.error('unhandled error in an inbound hook', { error: error as Error });
    request.response = json(500, { message: 'Error', error: 'Sluice could not process the hook; the error is logged under x-request-id' });
  },
};

function parseHook(jsonText: string | undefined): z.infer<typeof HookBody> {
  if (!jsonText || jsonText.trim() === '') throw new ValidationError('a JSON body {"event_id": "...", "sensor_data"?: {...}} is required');
  if (Buffer.byteLength(jsonText) > MAX_HOOK_BYTES) throw new PayloadTooLargeError(`the payload is over ${MAX_HOOK_BYTES} bytes`);
  const result = HookBody.safeParse(parseJsonText(jsonText, MAX_JSON_DEPTH).value);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ');
    throw new ValidationError(`the payload is not valid: ${problems}`);
  }
  return result.data;
}

export function hookHandler(extract: (event: HttpEvent) => HookRequest) {
  return middy<HttpEvent, HttpResult, Error, Context & { requestId?: string }>()
    .use(traceInvocations())
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(correlate())
    .use(hookErrors)
    .handler(async (event) => {
      const rawSize = event.body ? Buffer.byteLength(event.body) : 0;
      if (rawSize > MAX_HOOK_BYTES * 2) throw new PayloadTooLargeError(`the request body is over ${MAX_HOOK_BYTES} bytes`);
      const { key, jsonText } = extract(event);
      if (!key) throw new UnauthorizedError('the API key is missing');
      const input = parseHook(jsonText);
      const result = await (await use(hooks)).trigger(
        key,
        { eventId: input.event_id, ...(input.sensor_data && { sensorData: input.sensor_data }) },
        event.requestContext.http.sourceIp,
      );
      logger.info('inbound hook delivered', { actionId: result.actionId, deliveries: result.deliveries, eventId: input.event_id });
      return json(200, { message: 'success', ...result });
    });
}

/** `payload` is URL-encoded base64 (standard or URL-safe alphabet) of the same JSON a POST sends. */
export function decodePayload(payload: string | undefined): string | undefined {
  if (payload === undefined) return undefined;
  if (payload.length > MAX_HOOK_BYTES * 2) throw new PayloadTooLargeError(`the payload is over ${MAX_HOOK_BYTES} bytes`);
  // A `+` not percent-encoded arrives as a space; a space is never base64, so it can only be that.
  const normalized = payload.trim().replace(/ /g, '+').replace(/-/g, '+').replace(/_/g, '/');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(normalized)) throw new ValidationError('payload is not base64: send the base64 of the JSON body');
  const text = Buffer.from(normalized, 'base64').toString('utf8');
  try {
    JSON.parse(text);
  } catch {
    throw new ValidationError('payload is base64, but what it encodes is not JSON: encode {"event_id": "..."}');
  }
  return text;
}
