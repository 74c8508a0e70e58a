/**
 * What the API's own clients (the CLI, the portal) do with an answer of the typed client: the
 * data of a success, or an `ApiError` carrying the contract's error body, code and message.
 */

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

/** The data of a call that succeeded (undefined for a 204); an `ApiError` with the API's own message otherwise. */
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
