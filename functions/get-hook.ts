import { decodePayload, hookHandler } from './lib/edge/hooks.ts';

/** GET /v1/hooks?api_key=…&payload=…: the same trigger from a URL a browser or a simple device can open. */
export const handler = hookHandler((event) => ({
  key: event.queryStringParameters?.api_key,
  jsonText: decodePayload(event.queryStringParameters?.payload),
}));
