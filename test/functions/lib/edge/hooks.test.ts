import type { Context } from 'aws-lambda';
import { handler as getHook } from '../../../../functions/get-hook.ts';
import type { HookService } from '../../../../functions/lib/core/actions.ts';
import { NotFoundError, PayloadTooLargeError, RateLimitedError, ValidationError } from '../../../../functions/lib/core/errors.ts';
import type { HttpEvent } from '../../../../functions/lib/edge/answers.ts';
import { decodePayload, MAX_HOOK_BYTES } from '../../../../functions/lib/edge/hooks.ts';
import { handler as postHook } from '../../../../functions/post-hook.ts';

// Mostly the pure part of the inbound-hook edge: the middy handler builds the AWS container from
// the environment, and is covered by test/functions/inbound-hooks.int.test.ts. Its error mapping is
// checked here over a stub container whose hook service answers as a test says.
const mockHooks: { trigger: HookService['trigger'] | undefined } = { trigger: undefined };
jest.mock('../../../../functions/lib/container.ts', () => ({
  hooks: async () => ({
    trigger: (...args: Parameters<HookService['trigger']>) => {
      if (!mockHooks.trigger) throw new Error('no hook service stubbed for this test');
      return mockHooks.trigger(...args);
    },
  }),
  use: async (part: () => Promise<unknown>) => part(),
}));

/** Its standard base64 has both `+` and `/`, so the URL-safe form differs in two characters. */
const JSON_TEXT = '{"event_id":"ev-???>~"}';
const STANDARD = 'eyJldmVudF9pZCI6ImV2LT8/Pz5+In0=';

describe('decodePayload', () => {
  test('the fixture uses both characters that differ between the two alphabets', () => {
    expect(Buffer.from(JSON_TEXT).toString('base64')).toBe(STANDARD);
    expect(STANDARD).toMatch(/\+/);
    expect(STANDARD).toMatch(/\//);
  });

  test('standard base64 of JSON decodes to the JSON text', () => {
    expect(decodePayload(STANDARD)).toBe(JSON_TEXT);
  });

  test('URL-safe base64 (- and _), with or without padding, decodes to the same text', () => {
    const urlSafe = Buffer.from(JSON_TEXT).toString('base64url');
    expect(urlSafe).toBe('eyJldmVudF9pZCI6ImV2LT8_Pz5-In0');
    expect(decodePayload(urlSafe)).toBe(JSON_TEXT);
    expect(decodePayload(`${urlSafe}=`)).toBe(JSON_TEXT);
  });

  test('returns the JSON text byte for byte (spacing, number forms and UTF-8 kept), not a re-serialisation', () => {
    const text = '{ "event_id" : "tür-ü",\n "sensor_data": {"id":"s-1","event":"temp","value":1.50} }';
    expect(decodePayload(Buffer.from(text, 'utf8').toString('base64'))).toBe(text);
  });

  test('surrounding whitespace is ignored', () => {
    expect(decodePayload(`  ${STANDARD}\n`)).toBe(JSON_TEXT);
  });

  test('no payload is undefined (the handler then asks for a body)', () => {
    expect(decodePayload(undefined)).toBeUndefined();
  });

  test.each([
    ['characters outside both alphabets', 'not base64!'],
    ['a percent-encoded payload that was not decoded', 'eyJldmVudF9pZCI6ImV2In0%3D'],
    ['padding in the middle', 'eyJl=dmVudF9pZCI6ImV2In0'],
    ['more than two padding characters', 'eyJldmVudF9pZCI6ImV2In0==='],
    ['JSON sent as is instead of its base64', JSON_TEXT],
  ])('not base64 (%s) is a ValidationError', (_case, payload) => {
    expect(() => decodePayload(payload)).toThrow(ValidationError);
    expect(() => decodePayload(payload)).toThrow(/not base64/);
  });

  test.each([
    ['text', Buffer.from('event_id=lobby-welcome').toString('base64')],
    ['truncated JSON', Buffer.from('{"event_id":"lobby').toString('base64')],
    ['nothing at all', ''],
    ['bytes that are not UTF-8 JSON', Buffer.from([0xff, 0xfe, 0x00, 0x7b]).toString('base64')],
  ])('base64 of something that is not JSON (%s) is a ValidationError', (_case, payload) => {
    expect(() => decodePayload(payload)).toThrow(ValidationError);
    expect(() => decodePayload(payload)).toThrow(/not JSON/);
  });

  test('a payload over twice the byte limit is a PayloadTooLargeError, checked before decoding', () => {
    const tooLong = 'A'.repeat(MAX_HOOK_BYTES * 2 + 1);
    expect(() => decodePayload(tooLong)).toThrow(PayloadTooLargeError);
    // Even when it is not base64 at all: the size is what is reported.
    expect(() => decodePayload('!'.repeat(MAX_HOOK_BYTES * 2 + 1))).toThrow(PayloadTooLargeError);
  });

  test('a payload of exactly twice the byte limit is decoded (the JSON size is checked later, by the handler)', () => {
    // 24 576 bytes of JSON are exactly 32 768 base64 characters.
    const prefix = '{"event_id":"x","pad":"';
    const text = `${prefix}${'a'.repeat(MAX_HOOK_BYTES * 1.5 - prefix.length - 2)}"}`;
    const payload = Buffer.from(text).toString('base64');
    expect(payload).toHaveLength(MAX_HOOK_BYTES * 2);
    expect(decodePayload(payload)).toBe(text);
  });

  // Regression guard, fixed (functions/lib/edge/hooks.ts, decodePayload, the `normalized` line, line 78): a `+` of
  // standard base64 that the caller did not percent-encode reaches the handler as a space, because
  // query strings decode `+` as a space (URLSearchParams in the local stack's infra/local/http-api.ts
  // does so). The README's own GET example, `base64 | sed 's/=/%3D/g'`, escapes `=` but not `+`,
  // so any event_id whose base64 holds a `+` (here `{"event_id":"ev-???>~"}`) is refused with 400
  // "payload is not base64". Fix: also map ' ' to '+' when normalising (a space is never valid
  // base64, so nothing is lost), e.g. `.replace(/ /g, '+')` before the alphabet check.
  test('a `+` that a query string turned into a space still decodes', () => {
    const asReceived = new URLSearchParams(`payload=${STANDARD.replace(/=/g, '%3D')}`).get('payload') ?? '';
    expect(asReceived).toContain(' ');
    expect(decodePayload(asReceived)).toBe(JSON_TEXT);
  });
});

describe('hookHandler: errors in the §7 shape', () => {
  const context = { functionName: 'post-hook', awsRequestId: 'req-1' } as unknown as Context;
  const postEvent = (body: string) =>
    ({
      version: '2.0',
      routeKey: 'POST /v1/hooks',
      rawPath: '/v1/hooks',
      rawQueryString: '',
      headers: { 'x-webhook-apikey': 'sk_inbound', 'content-type': 'application/json' },
      body,
      isBase64Encoded: false,
      requestContext: { http: { method: 'POST', path: '/v1/hooks', sourceIp: '203.0.113.7' } },
    }) as unknown as HttpEvent;

  afterEach(() => {
    mockHooks.trigger = undefined;
  });

  test('a 429 (too many triggers for the key) carries retry-after', async () => {
    const trigger = jest.fn<ReturnType<HookService['trigger']>, Parameters<HookService['trigger']>>(async () => {
      throw new RateLimitedError('too many triggers for this key: at most 10 a second');
    });
    mockHooks.trigger = trigger;
    const result = await postHook(postEvent('{"event_id":"lobby-welcome"}'), context);
    expect(trigger).toHaveBeenCalledWith('sk_inbound', { eventId: 'lobby-welcome' }, '203.0.113.7');
    expect(result).toEqual({
      statusCode: 429,
      headers: { 'content-type': 'application/json', 'retry-after': '1', 'x-request-id': 'req-1' },
      body: JSON.stringify({ message: 'Error', error: 'too many triggers for this key: at most 10 a second' }),
    });
  });

  test('the GET hook answers its 429 the same way, with the error’s own retry-after', async () => {
    mockHooks.trigger = async () => {
      throw new RateLimitedError('slow down', 4);
    };
    const event = {
      ...postEvent(''),
      routeKey: 'GET /v1/hooks',
      headers: {},
      body: undefined,
      queryStringParameters: { api_key: 'sk_inbound', payload: Buffer.from('{"event_id":"lobby-welcome"}').toString('base64') },
    } as unknown as HttpEvent;
    const result = await getHook(event, context);
    expect(result).toMatchObject({ statusCode: 429, headers: { 'retry-after': '4' } });
  });

  test('other errors carry no retry-after', async () => {
    mockHooks.trigger = async () => {
      throw new NotFoundError('action for event_id', 'nope');
    };
    const result = await postHook(postEvent('{"event_id":"nope"}'), context);
    expect(result).toEqual({
      statusCode: 404,
      headers: { 'content-type': 'application/json', 'x-request-id': 'req-1' },
      body: JSON.stringify({ message: 'Error', error: "action for event_id 'nope' does not exist" }),
    });
  });
});
