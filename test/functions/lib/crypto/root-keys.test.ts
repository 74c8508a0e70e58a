import { hashKey } from '../../../../functions/lib/core/access.ts';
import {
  finishRootKeyHandOver,
  generateRootKey,
  parseRootKeys,
  parseRootKeyVerifier,
  RootKeyError,
  type RootKeys,
  rootKeyVerifier,
  rotateRootKeys,
  serializeRootKeys,
  serializeRootKeyVerifier,
  validRootKeyHashes,
} from '../../../../functions/lib/crypto/root-keys.ts';

const OLD = 'root_old_0123456789abcdefghijklmnop';
const NEW = 'root_new_0123456789abcdefghijklmnop';
const T0 = new Date('2025-01-01T00:00:00.000Z');

/** The hashes that open the root routes at `now`, through the verifier as the functions see it. */
const validAt = (keys: RootKeys, now: Date) =>
  validRootKeyHashes(parseRootKeyVerifier(serializeRootKeyVerifier(rootKeyVerifier(keys))), now);

describe('root keys', () => {
  test('a plain key (the format before rotation) is the current key alone', () => {
    expect(parseRootKeys(OLD)).toEqual({ current: OLD });
    expect(serializeRootKeys({ current: OLD })).toBe(OLD);
    expect(validAt(parseRootKeys(OLD), T0)).toEqual([hashKey(OLD)]);
  });

  test('during a hand-over both keys are valid; a hand-over with an end stops accepting the previous key then', () => {
    const rotated = rotateRootKeys({ current: OLD }, T0, 3600, NEW);
    expect(rotated).toEqual({ current: NEW, previous: OLD, previousExpiresAt: '2025-01-01T01:00:00.000Z' });
    expect(parseRootKeys(serializeRootKeys(rotated))).toEqual(rotated);
    expect(validAt(rotated, new Date(T0.getTime() + 3_599_999))).toEqual([hashKey(NEW), hashKey(OLD)]);
    expect(validAt(rotated, new Date(T0.getTime() + 3_600_000))).toEqual([hashKey(NEW)]);
  });

  test('without an end, the previous key stays valid until the hand-over is finished', () => {
    const rotated = rotateRootKeys({ current: OLD }, T0, undefined, NEW);
    expect(serializeRootKeys(rotated)).toBe(JSON.stringify({ current: NEW, previous: OLD }));
    expect(validAt(rotated, new Date('2100-01-01'))).toEqual([hashKey(NEW), hashKey(OLD)]);
    const finished = finishRootKeyHandOver(rotated);
    expect(serializeRootKeys(finished)).toBe(NEW);
    expect(validAt(finished, T0)).toEqual([hashKey(NEW)]);
  });

  test('a second rotation drops the key of the first hand-over', () => {
    const third = generateRootKey();
    const twice = rotateRootKeys(rotateRootKeys({ current: OLD }, T0, undefined, NEW), T0, undefined, third);
    expect(twice).toEqual({ current: third, previous: NEW });
  });

  test('generated keys carry 256 random bits', () => {
    const key = generateRootKey();
    expect(key).toMatch(/^root_[A-Za-z0-9_-]{43}$/);
    expect(generateRootKey()).not.toBe(key);
  });

  test.each([
    ['a short key', 'short'],
    ['broken JSON', '{"current":'],
    ['JSON without current', JSON.stringify({ previous: OLD })],
    ['a short previous key', JSON.stringify({ current: NEW, previous: 'x' })],
    ['a bad end time', JSON.stringify({ current: NEW, previous: OLD, previousExpiresAt: 'tomorrow' })],
  ])('refuses %s', (_what, text) => {
    expect(() => parseRootKeys(text)).toThrow(RootKeyError);
  });
});

describe('the root key verifier', () => {
  test('holds the hashes and the end of the hand-over, never a key', () => {
    const rotated = rotateRootKeys({ current: OLD }, T0, 3600, NEW);
    const verifier = rootKeyVerifier(rotated);
    expect(verifier).toEqual({ current: hashKey(NEW), previous: { hash: hashKey(OLD), until: '2025-01-01T01:00:00.000Z' } });
    const text = serializeRootKeyVerifier(verifier);
    expect(text).not.toContain(OLD);
    expect(text).not.toContain(NEW);
    expect(parseRootKeyVerifier(text)).toEqual(verifier);
    expect(rootKeyVerifier({ current: OLD })).toEqual({ current: hashKey(OLD) });
    // A hand-over without an end (local) has none in the verifier either.
    expect(rootKeyVerifier(rotateRootKeys({ current: OLD }, T0, undefined, NEW))).toEqual({
      current: hashKey(NEW),
      previous: { hash: hashKey(OLD) },
    });
  });

  test('an end given in another ISO 8601 form is normalised to UTC and still ends the hand-over then', () => {
    const keys = parseRootKeys(JSON.stringify({ current: NEW, previous: OLD, previousExpiresAt: '2025-01-01T02:00:00+01:00' }));
    expect(rootKeyVerifier(keys).previous?.until).toBe('2025-01-01T01:00:00.000Z');
    expect(validAt(keys, new Date('2025-01-01T00:59:59.999Z'))).toEqual([hashKey(NEW), hashKey(OLD)]);
    expect(validAt(keys, new Date('2025-01-01T01:00:00.000Z'))).toEqual([hashKey(NEW)]);
  });

  test('validity is decided at each call: the same verifier stops accepting the previous key when the hand-over ends', () => {
    const verifier = rootKeyVerifier(rotateRootKeys({ current: OLD }, T0, 60, NEW));
    expect(validRootKeyHashes(verifier, T0)).toEqual([hashKey(NEW), hashKey(OLD)]);
    expect(validRootKeyHashes(verifier, new Date(T0.getTime() + 60_000))).toEqual([hashKey(NEW)]);
  });

  const digest = hashKey(OLD);
  test.each([
    ['not JSON', 'root_plain_key_0123456789abcdef'],
    ['an empty value', ''],
    ['a key instead of a hash', JSON.stringify({ current: NEW })],
    ['an upper-case digest', JSON.stringify({ current: digest.toUpperCase() })],
    ['no current hash', JSON.stringify({ previous: { hash: digest } })],
    ['a previous hash as a bare string', JSON.stringify({ current: digest, previous: digest })],
    ['a bad end time', JSON.stringify({ current: digest, previous: { hash: digest, until: 'tomorrow' } })],
    ['an unknown field', JSON.stringify({ current: digest, key: NEW })],
  ])('refuses %s', (_what, text) => {
    expect(() => parseRootKeyVerifier(text)).toThrow(RootKeyError);
  });
});
