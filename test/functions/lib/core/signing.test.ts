import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { signatureHeader } from '../../../../functions/lib/core/signing.ts';
import { expectedSignature, OLD_SECRET, SECRET } from './fakes.ts';

// standardwebhooks refuses timestamps more than 5 minutes from the real clock, so sign "now".
const now = new Date(Math.floor(Date.now() / 1000) * 1000);
const seconds = String(now.getTime() / 1000);
const id = 'msg_01JN0000000000000000000MSG';
const body = '{"id":"msg_01JN0000000000000000000MSG","type":"lock.unlocked","createdAt":"2025-03-01T00:00:00.000Z","data":{"é":"ü"}}';

function headers(signature: string) {
  return { 'webhook-id': id, 'webhook-timestamp': seconds, 'webhook-signature': signature };
}

describe('signatureHeader', () => {
  test('one secret: `v1,<base64>` that verifies with the standardwebhooks library', () => {
    const header = signatureHeader([{ value: SECRET, createdAt: '2025-01-01T00:00:00Z' }], id, now, body);
    expect(header).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
    expect(new Webhook(SECRET).verify(body, headers(header))).toEqual(JSON.parse(body));
  });

  test('the signature is HMAC-SHA256 of "id.timestamp.body" with the base64-decoded secret (svix-style check)', () => {
    const header = signatureHeader([{ value: SECRET, createdAt: '2025-01-01T00:00:00Z' }], id, now, body);
    expect(header).toBe(`v1,${expectedSignature(SECRET, id, Number(seconds), body)}`);
  });

  test('the timestamp is whole seconds: a millisecond part does not change the signature', () => {
    const secrets = [{ value: SECRET, createdAt: '2025-01-01T00:00:00Z' }];
    expect(signatureHeader(secrets, id, new Date(now.getTime() + 999), body)).toBe(signatureHeader(secrets, id, now, body));
  });

  test('two secrets: two space-separated signatures, each verifying with its own secret', () => {
    const header = signatureHeader(
      [
        { value: SECRET, createdAt: '2025-03-01T00:00:00Z' },
        { value: OLD_SECRET, createdAt: '2025-01-01T00:00:00Z', expiresAt: '2099-01-01T00:00:00Z' },
      ],
      id,
      now,
      body,
    );
    const parts = header.split(' ');
    expect(parts).toEqual([
      `v1,${expectedSignature(SECRET, id, Number(seconds), body)}`,
      `v1,${expectedSignature(OLD_SECRET, id, Number(seconds), body)}`,
    ]);
    // A receiver holding either secret accepts the full header.
    expect(() => new Webhook(SECRET).verify(body, headers(header))).not.toThrow();
    expect(() => new Webhook(OLD_SECRET).verify(body, headers(header))).not.toThrow();
    // And each signature alone verifies only with its own secret.
    const [current = '', old = ''] = parts;
    expect(() => new Webhook(SECRET).verify(body, headers(current))).not.toThrow();
    expect(() => new Webhook(OLD_SECRET).verify(body, headers(old))).not.toThrow();
    expect(() => new Webhook(OLD_SECRET).verify(body, headers(current))).toThrow(WebhookVerificationError);
  });

  test('a tampered body or another secret does not verify', () => {
    const header = signatureHeader([{ value: SECRET, createdAt: '2025-01-01T00:00:00Z' }], id, now, body);
    expect(() => new Webhook(SECRET).verify(body.replace('ü', 'u'), headers(header))).toThrow(WebhookVerificationError);
    expect(() => new Webhook(OLD_SECRET).verify(body, headers(header))).toThrow(WebhookVerificationError);
  });

  test('an empty body (thin mode) is signed and verifies', () => {
    const header = signatureHeader([{ value: SECRET, createdAt: '2025-01-01T00:00:00Z' }], id, now, '');
    expect(header).toBe(`v1,${expectedSignature(SECRET, id, Number(seconds), '')}`);
    expect(new Webhook(SECRET).verify('', headers(header))).toBeUndefined();
  });
});
