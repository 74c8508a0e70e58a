/**
 * The CLI's view of the Sluice API: the typed client generated from the OpenAPI document
 * (`npm run generate:client`), with every answer that is not a success turned into an error the
 * CLI maps to an exit code.
 */
import createClient from 'openapi-fetch';
import type { paths } from '../examples/typed-client/sluice-api.ts';

export type SluiceClient = ReturnType<typeof createClient<paths>>;

/** The API answered with an error body: the request was refused (4xx) or failed on the server (5xx). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Sluice could not be reached at all. */
export class UnreachableError extends Error {}

export interface Connection {
  readonly url: string;
  readonly key: string;
}

export function clientOf(connection: Connection): SluiceClient {
  return createClient<paths>({
    baseUrl: connection.url.replace(/\/+$/, ''),
    headers: { authorization: `Bearer ${connection.key}` },
    fetch: async (request) => {
      try {
        return await fetch(request);
      } catch (error) {
        const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
        throw new UnreachableError(`cannot reach Sluice at ${connection.url}${cause}`);
      }
    },
  });
}

/** The data of a call that succeeded; an `ApiError` with the API's own message otherwise. */
export async function must<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok && data !== undefined) return data;
  if (response.ok) return undefined as T;
  const body = (error ?? {}) as { error?: { code?: string; message?: string; details?: { path?: string; message: string }[] } };
  const details = body.error?.details?.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ');
  throw new ApiError(
    response.status,
    body.error?.code ?? `http_${response.status}`,
    `${body.error?.message ?? response.statusText}${details ? ` (${details})` : ''}`,
  );
}
