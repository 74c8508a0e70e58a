import { randomBytes } from 'node:crypto';
import {
  generateDataKey,
  type Keyring,
  KeyringError,
  nextKeyId,
  PROMOTE_AFTER_SECONDS,
  parseKeyring,
  rotateStaged,
  serializeKeyring,
  withNewCurrentKey,
} from '../../../../functions/lib/crypto/keyring.ts';

const k1 = generateDataKey();
const k2 = generateDataKey();
const T0 = new Date('2025-01-01T00:00:00.000Z');
const later = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

describe('parseKeyring', () => {
  test('a bare base64 key (the format before rotation) is a ring of one key, k1', () => {
    expect(parseKeyring(k1)).toEqual({ current: 'k1', keys: { k1 } });
    expect(parseKeyring(`  ${k1}\n`)).toEqual({ current: 'k1', keys: { k1 } });
    // Secrets Manager generated it as 43 characters, without padding.
    expect(parseKeyring(k1.replace(/=+$/, '')).keys.k1).toBe(k1.replace(/=+$/, ''));
  });

  test('keyring JSON round-trips, with a staged key', () => {
    const ring: Keyring = { current: 'k1', keys: { k1, k2 }, next: 'k2', stagedAt: T0.toISOString() };
    expect(parseKeyring(serializeKeyring(ring))).toEqual(ring);
    expect(parseKeyring(JSON.stringify({ current: 'k2', keys: { k1, k2 } }))).toEqual({ current: 'k2', keys: { k1, k2 } });
  });

  test.each([
    ['not JSON', '{"current":', 'not valid JSON'],
    ['keys as an array', '{"current":"k1","keys":[]}', 'no "keys" object'],
    ['no keys', '{"current":"k1"}', 'no "keys" object'],
    ['a current key it lacks', JSON.stringify({ current: 'k3', keys: { k1 } }), '"current" must name one of its keys'],
    ['a short key', JSON.stringify({ current: 'k1', keys: { k1: randomBytes(31).toString('base64') } }), 'data key k1'],
    ['a key id with a dot', JSON.stringify({ current: 'k.1', keys: { 'k.1': k1 } }), 'must be 1-32 letters'],
    ['a next key it lacks', JSON.stringify({ current: 'k1', keys: { k1 }, next: 'k2' }), '"next" must name'],
    ['next equal to current', JSON.stringify({ current: 'k1', keys: { k1 }, next: 'k1' }), '"next" must name'],
    ['a bad stagedAt', JSON.stringify({ current: 'k1', keys: { k1, k2 }, next: 'k2', stagedAt: 'soon' }), 'stagedAt'],
    ['a bare key of 16 bytes', randomBytes(16).toString('base64'), 'must be 32 bytes'],
  ])('refuses %s', (_what, text, message) => {
    expect(() => parseKeyring(text)).toThrow(KeyringError);
    expect(() => parseKeyring(text)).toThrow(message);
  });

  test('errors never contain key material', () => {
    const short = randomBytes(31).toString('base64');
    expect(() => parseKeyring(JSON.stringify({ current: 'k1', keys: { k1: short } }))).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(short) }),
    );
  });
});

describe('rotation of the ring', () => {
  test('new ids follow the highest kN', () => {
    expect(nextKeyId({ current: 'k1', keys: { k1 } })).toBe('k2');
    expect(nextKeyId({ current: 'custom', keys: { custom: k1, k7: k2 } })).toBe('k8');
    expect(nextKeyId({ current: 'custom', keys: { custom: k1 } })).toBe('k1');
  });

  test('locally, a new key seals at once and every old key stays', () => {
    const ring = withNewCurrentKey(parseKeyring(k1), k2);
    expect(ring).toEqual({ current: 'k2', keys: { k1, k2 } });
    expect(withNewCurrentKey(ring).current).toBe('k3');
    expect(Object.keys(withNewCurrentKey(ring).keys)).toEqual(['k1', 'k2', 'k3']);
  });

  test('in AWS, the first rotation only stages a key; the next one makes it current and stages another', () => {
    const first = rotateStaged(parseKeyring(k1), T0, k2);
    expect(first).toEqual({ current: 'k1', keys: { k1, k2 }, next: 'k2', stagedAt: T0.toISOString() });
    const second = rotateStaged(first, later(30 * 86_400));
    expect(second.current).toBe('k2');
    expect(second.next).toBe('k3');
    expect(second.stagedAt).toBe(later(30 * 86_400).toISOString());
    expect(Object.keys(second.keys)).toEqual(['k1', 'k2', 'k3']);
    expect(second.keys.k1).toBe(k1);
  });

  test('a staged key younger than the promotion delay is not promoted: every function must have loaded it first', () => {
    const staged = rotateStaged(parseKeyring(k1), T0, k2);
    expect(() => rotateStaged(staged, later(PROMOTE_AFTER_SECONDS - 1))).toThrow(/k2 was staged \d+ s ago/);
    expect(rotateStaged(staged, later(PROMOTE_AFTER_SECONDS)).current).toBe('k2');
  });
});
