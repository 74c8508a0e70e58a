/**
 * The CLI's view of the Sluice API: the typed client generated from the OpenAPI document
 * (`npm run generate:client`), with every answer that is not a success turned into an error the
 * CLI maps to an exit code.
 */
import createClient from 'openapi-fetch';
import type { paths } from '../examples/typed-client/sluice-api.ts';

export { ApiError, must } from '../examples/typed-client/answers.ts';

export type SluiceClient = ReturnType<typeof createClient<paths>>;

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
