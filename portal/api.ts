/**
 * The portal's view of the Sluice API: the typed client generated from the OpenAPI document, with
 * the session's token held in memory only (never in a URL or in browser storage), and every answer
 * that is not a success turned into an `ApiError` carrying the API's own message.
 */
import createClient from 'openapi-fetch';
import type { components, paths } from '../examples/typed-client/sluice-api.ts';

export type Schemas = components['schemas'];
export type SluiceClient = ReturnType<typeof createClient<paths>>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A client for the API this page was served by, calling with the session's token. */
export function clientFor(token: string): SluiceClient {
  return createClient<paths>({ baseUrl: window.location.origin, headers: { authorization: `Bearer ${token}` } });
}

/** The data of a call that succeeded; an `ApiError` with the API's message otherwise. */
export async function must<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  const body = (error ?? {}) as { error?: { code?: string; message?: string; details?: { path?: string; message: string }[] } };
  const details = body.error?.details?.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ');
  throw new ApiError(
    response.status,
    body.error?.code ?? `http_${response.status}`,
    `${body.error?.message ?? response.statusText}${details ? ` (${details})` : ''}`,
  );
}
