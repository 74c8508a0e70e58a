/**
 * The portal's view of the Sluice API: the typed client generated from the OpenAPI document, with
 * the session's token held in memory only (never in a URL or in browser storage), and every answer
 * that is not a success turned into an `ApiError` carrying the API's own message.
 */
import createClient from 'openapi-fetch';
import type { components, paths } from '../examples/typed-client/sluice-api.ts';

export { ApiError, must } from '../examples/typed-client/answers.ts';

export type Schemas = components['schemas'];
export type SluiceClient = ReturnType<typeof createClient<paths>>;

/** A client for the API this page was served by, calling with the session's token. */
export function clientFor(token: string): SluiceClient {
  return createClient<paths>({ baseUrl: window.location.origin, headers: { authorization: `Bearer ${token}` } });
}
