import { hookHandler } from './lib/edge/hooks.ts';

/** POST /v1/hooks: key in `x-webhook-apikey`, JSON `{event_id, sensor_data?}` in the body. */
export const handler = hookHandler((event) => ({
  key: event.headers?.['x-webhook-apikey'],
  jsonText: event.body && event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body,
}));
