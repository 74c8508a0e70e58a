import { Webhook } from 'standardwebhooks';
import {
  type AttemptSubject,
  activeSecrets,
  buildRequest,
  classify,
  deliveryBody,
  USER_AGENT,
} from '../../../../functions/lib/core/delivery-request.ts';
import { aDelivery, aMessage, anEndpoint, expectedSignature, OLD_SECRET, SECRET, T0 } from './fakes.ts';

const at = (offsetMs: number) => new Date(T0.getTime() + offsetMs).toISOString();

/** What an attempt at `delivery` of `message` is about. */
function subjectOf(message = aMessage(), delivery = aDelivery()): AttemptSubject {
  return {
    messageId: message.id,
    type: message.type,
    createdAt: message.createdAt,
    deliveryId: delivery.id,
    payloadJson: message.payloadJson,
  };
}

describe('deliveryBody', () => {
  test('is {"id","type","createdAt","data"} with data byte-identical to the stored payloadJson', () => {
    // `1.50`, the spacing and the key order would all be lost by a JSON.parse/JSON.stringify round trip.
    const payloadJson = '{"b": 1.50, "a":"ü \\u00e9",\n "nested":{"z":[1, 2]}}';
    const message = aMessage({ payloadJson });
    const body = deliveryBody({ messageId: message.id, type: message.type, createdAt: message.createdAt, payloadJson });
    expect(body).toBe(`{"id":"${message.id}","type":"${message.type}","createdAt":"${message.createdAt}","data":${payloadJson}}`);
    const parsed: unknown = JSON.parse(body);
    expect(Object.keys(parsed as object)).toEqual(['id', 'type', 'createdAt', 'data']);
    expect(parsed).toEqual({ id: message.id, type: message.type, createdAt: message.createdAt, data: JSON.parse(payloadJson) });
  });

  test('escapes the envelope fields as JSON strings', () => {
    const message = aMessage({ type: 'a"b' });
    const body = deliveryBody({ messageId: message.id, type: message.type, createdAt: message.createdAt, payloadJson: '{}' });
    expect((JSON.parse(body) as { type: string }).type).toBe('a"b');
  });
});

describe('activeSecrets', () => {
  test('the current secret and a rotated-out one until it expires', () => {
    const current = { value: SECRET, createdAt: at(0) };
    const rotated = { value: OLD_SECRET, createdAt: '2025-01-01T00:00:00.000Z', expiresAt: at(1000) };
    expect(activeSecrets([current, rotated], T0)).toEqual([current, rotated]);
    expect(activeSecrets([current, rotated], new Date(at(999)))).toEqual([current, rotated]);
    // Expired at its expiresAt, not after it.
    expect(activeSecrets([current, rotated], new Date(at(1000)))).toEqual([current]);
  });
});

describe('buildRequest', () => {
  // Signatures are verified with standardwebhooks, which only accepts timestamps near the real clock.
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  const seconds = String(now.getTime() / 1000);
  const message = aMessage();
  const delivery = aDelivery();
  const subject = subjectOf(message, delivery);
  const body = deliveryBody({ ...subject, payloadJson: message.payloadJson });

  test('full mode: the headers of contract §5 and a signed JSON body', () => {
    const endpoint = anEndpoint({ timeoutMs: 4321, url: 'https://receiver.example.com/in?x=1' });
    const request = buildRequest(endpoint, subject, 3, now);
    expect(request.url).toBe('https://receiver.example.com/in?x=1');
    expect(request.timeoutMs).toBe(4321);
    expect(request.body).toBe(body);
    expect(request.headers).toEqual({
      'content-type': 'application/json',
      'user-agent': 'Sluice/1.0',
      'webhook-id': message.id,
      'webhook-timestamp': seconds,
      'webhook-signature': `v1,${expectedSignature(SECRET, message.id, Number(seconds), request.body)}`,
      'x-sluice-event-type': message.type,
      'x-sluice-delivery-id': delivery.id,
      'x-sluice-attempt': '3',
    });
    expect(USER_AGENT).toBe('Sluice/1.0');
  });

  test('the body is built from the subject alone: the envelope of its message id, type, createdAt and payload', () => {
    const request = buildRequest(
      anEndpoint(),
      { messageId: 'msg_X', type: 't.x', createdAt: at(-5000), deliveryId: 'dlv_X', payloadJson: '{"k": 1.0}' },
      1,
      now,
    );
    expect(request.body).toBe(`{"id":"msg_X","type":"t.x","createdAt":"${at(-5000)}","data":{"k": 1.0}}`);
    expect(request.headers['webhook-id']).toBe('msg_X');
    expect(request.headers['x-sluice-delivery-id']).toBe('dlv_X');
    expect(request.headers['x-sluice-event-type']).toBe('t.x');
  });

  test('full mode without a payload is refused (a bug upstream, never an empty body)', () => {
    const { payloadJson: _none, ...bare } = subject;
    expect(() => buildRequest(anEndpoint(), bare, 1, now)).toThrow(`no payload for delivery ${delivery.id}`);
  });

  test('the signature verifies with the standardwebhooks library', () => {
    const request = buildRequest(anEndpoint(), subject, 1, now);
    const verified = new Webhook(SECRET).verify(request.body, { ...request.headers });
    expect(verified).toEqual(JSON.parse(request.body));
  });

  test('two active secrets: two signatures, each verifying with its own secret', () => {
    const endpoint = anEndpoint({
      secrets: [
        { value: SECRET, createdAt: at(0) },
        { value: OLD_SECRET, createdAt: '2025-01-01T00:00:00.000Z', expiresAt: new Date(now.getTime() + 3600_000).toISOString() },
      ],
    });
    const request = buildRequest(endpoint, subject, 1, now);
    const signatures = (request.headers['webhook-signature'] ?? '').split(' ');
    expect(signatures).toEqual([
      `v1,${expectedSignature(SECRET, message.id, Number(seconds), request.body)}`,
      `v1,${expectedSignature(OLD_SECRET, message.id, Number(seconds), request.body)}`,
    ]);
    expect(() => new Webhook(SECRET).verify(request.body, { ...request.headers })).not.toThrow();
    expect(() => new Webhook(OLD_SECRET).verify(request.body, { ...request.headers })).not.toThrow();
  });

  test('an expired secret no longer signs', () => {
    const endpoint = anEndpoint({
      secrets: [
        { value: SECRET, createdAt: at(0) },
        { value: OLD_SECRET, createdAt: '2025-01-01T00:00:00.000Z', expiresAt: new Date(now.getTime() - 1000).toISOString() },
      ],
    });
    const request = buildRequest(endpoint, subject, 1, now);
    expect(request.headers['webhook-signature']).toBe(`v1,${expectedSignature(SECRET, message.id, Number(seconds), request.body)}`);
    expect(() => new Webhook(OLD_SECRET).verify(request.body, { ...request.headers })).toThrow();
  });

  test('Basic auth is sent when the endpoint has it', () => {
    const endpoint = anEndpoint({ auth: { type: 'basic', username: 'hook', password: 'p@ss:wörd' } });
    const request = buildRequest(endpoint, subject, 1, now);
    expect(request.headers.authorization).toBe(`Basic ${Buffer.from('hook:p@ss:wörd').toString('base64')}`);
    expect(buildRequest(anEndpoint(), subject, 1, now).headers.authorization).toBeUndefined();
  });

  test('custom headers are sent, but cannot override the reserved ones', () => {
    const endpoint = anEndpoint({
      auth: { type: 'basic', username: 'u', password: 'p' },
      headers: {
        'x-tenant-ref': 'abc-123',
        'user-agent': 'evil/1.0',
        'content-type': 'text/plain',
        'webhook-id': 'forged',
        'webhook-timestamp': '1',
        'webhook-signature': 'v1,forged',
        'x-sluice-event-type': 'forged',
        'x-sluice-delivery-id': 'forged',
        'x-sluice-attempt': '99',
        authorization: 'Bearer forged',
      },
    });
    const request = buildRequest(endpoint, subject, 2, now);
    expect(request.headers['x-tenant-ref']).toBe('abc-123');
    expect(request.headers['user-agent']).toBe('Sluice/1.0');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['webhook-id']).toBe(message.id);
    expect(request.headers['webhook-timestamp']).toBe(seconds);
    expect(request.headers['x-sluice-event-type']).toBe(message.type);
    expect(request.headers['x-sluice-delivery-id']).toBe(delivery.id);
    expect(request.headers['x-sluice-attempt']).toBe('2');
    expect(request.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(() => new Webhook(SECRET).verify(request.body, { ...request.headers })).not.toThrow();
  });

  test('the endpoint’s userAgent replaces the default one', () => {
    expect(buildRequest(anEndpoint({ userAgent: 'Acme/2.1' }), subject, 1, now).headers['user-agent']).toBe('Acme/2.1');
  });

  test('thin mode: empty body, x-message-id is the delivery id, no content-type, signed over the empty body', () => {
    const endpoint = anEndpoint({ mode: 'thin' });
    const request = buildRequest(endpoint, subject, 1, now);
    expect(request.body).toBe('');
    expect(request.headers['x-message-id']).toBe(delivery.id);
    expect(request.headers['content-type']).toBeUndefined();
    expect(request.headers['webhook-id']).toBe(message.id);
    expect(request.headers['user-agent']).toBe('Sluice/1.0');
    expect(request.headers['webhook-signature']).toBe(`v1,${expectedSignature(SECRET, message.id, Number(seconds), '')}`);
    expect(new Webhook(SECRET).verify('', { ...request.headers })).toBeUndefined();
  });

  test('thin mode needs no payload', () => {
    const { payloadJson: _none, ...bare } = subject;
    const request = buildRequest(anEndpoint({ mode: 'thin' }), bare, 1, now);
    expect(request.body).toBe('');
    expect(request.headers['x-message-id']).toBe(delivery.id);
  });

  test('full mode has no x-message-id', () => {
    expect(buildRequest(anEndpoint(), subject, 1, now).headers['x-message-id']).toBeUndefined();
  });
});

describe('classify', () => {
  test.each([
    [200, 'succeeded'],
    [204, 'succeeded'],
    [299, 'succeeded'],
    [301, 'failed'],
    [302, 'failed'],
    [400, 'failed'],
    [404, 'failed'],
    [410, 'gone'],
    [429, 'failed'],
    [500, 'failed'],
    [503, 'failed'],
  ] as const)('HTTP %i is %s', (statusCode, outcome) => {
    expect(classify({ durationMs: 1, statusCode })).toBe(outcome);
  });

  test('no status (timeout, refused, DNS, blocked) is a failure', () => {
    expect(classify({ durationMs: 1000, error: { code: 'timeout', message: 'no complete response' } })).toBe('failed');
  });
});
