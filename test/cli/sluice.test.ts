import { Webhook } from 'standardwebhooks';
import { parseRequest, parseSince, verifySignature } from '../../cli/sluice.ts';

const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

function signed(body: string, at: Date, id = 'msg_1') {
  const signature = new Webhook(secret).sign(id, at, body);
  return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signature };
}

describe('parseSince', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');
  test.each([
    ['30s', '2026-11-30T11:59:30.000Z'],
    ['15m', '2026-11-30T11:45:00.000Z'],
    ['1h', '2026-11-30T11:00:00.000Z'],
    ['2d', '2026-11-28T12:00:00.000Z'],
    ['2026-11-30T08:00:00+01:00', '2026-11-30T07:00:00.000Z'],
  ])('%s', (value, expected) => {
    expect(parseSince(value, now)).toBe(expected);
  });

  test.each(['yesterday', '1w', '-1h', '2026-11-30', ''])('refuses %j', (value) => {
    expect(() => parseSince(value, now)).toThrow('give a duration ago');
  });
});

describe('parseRequest', () => {
  test('the request line is optional, header names are lower-cased, the body is kept byte for byte', () => {
    const body = '{"a":1}\n\n{"not":"headers"}\n';
    expect(parseRequest(`POST /hook HTTP/1.1\r\nWebhook-Id: msg_1\r\nContent-Type: application/json\r\n\r\n${body}`)).toEqual({
      headers: { 'webhook-id': 'msg_1', 'content-type': 'application/json' },
      body,
    });
    expect(parseRequest('webhook-id: msg_2\n\n')).toEqual({ headers: { 'webhook-id': 'msg_2' }, body: '' });
  });
});

describe('verifySignature', () => {
  const body = '{"type":"order.created"}';

  test('a fresh signature verifies; a changed body does not', () => {
    const headers = signed(body, new Date());
    expect(verifySignature(secret, headers, body, false)).toMatchObject({ valid: true, messageId: 'msg_1' });
    expect(verifySignature(secret, headers, `${body} `, false)).toEqual({ valid: false, reason: 'No matching signature found' });
  });

  test('an old capture fails on its age unless allowed, and then on its signature alone', () => {
    const at = new Date(Date.now() - 3_600_000);
    const headers = signed(body, at);
    expect(verifySignature(secret, headers, body, false)).toEqual({ valid: false, reason: 'Message timestamp too old' });
    expect(verifySignature(secret, headers, body, true)).toEqual({
      valid: true,
      messageId: 'msg_1',
      signedAt: new Date(Math.floor(at.getTime() / 1000) * 1000).toISOString(),
    });
    expect(verifySignature(secret, headers, '{}', true)).toEqual({ valid: false, reason: 'No matching signature found' });
  });

  test('an empty body (a thin notification) verifies; a secret that is not one says so', () => {
    expect(verifySignature(secret, signed('', new Date()), '', false)).toMatchObject({ valid: true });
    expect(verifySignature('not-a-secret', signed('', new Date()), '', false)).toEqual({
      valid: false,
      reason: 'the secret is not a signing secret (whsec_ followed by base64)',
    });
  });
});
