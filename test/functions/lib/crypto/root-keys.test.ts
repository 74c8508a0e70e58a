import {
  finishRootKeyHandOver,
  generateRootKey,
  parseRootKeys,
  RootKeyError,
  rotateRootKeys,
  serializeRootKeys,
  validRootKeys,
} from '../../../../functions/lib/crypto/root-keys.ts';

const OLD = 'root_old_0123456789abcdefghijklmnop';
const NEW = 'root_new_0123456789abcdefghijklmnop';
const T0 = new Date('2025-01-01T00:00:00.000Z');

describe('root keys', () => {
  test('a plain key (the format before rotation) is the current key alone', () => {
    expect(parseRootKeys(OLD)).toEqual({ current: OLD });
    expect(serializeRootKeys({ current: OLD })).toBe(OLD);
    expect(validRootKeys(parseRootKeys(OLD), T0)).toEqual([OLD]);
  });

  test('during a hand-over both keys are valid; a hand-over with an end stops accepting the previous key then', () => {
    const rotated = rotateRootKeys({ current: OLD }, T0, 3600, NEW);
    expect(rotated).toEqual({ current: NEW, previous: OLD, previousExpiresAt: '2025-01-01T01:00:00.000Z' });
    expect(parseRootKeys(serializeRootKeys(rotated))).toEqual(rotated);
    expect(validRootKeys(rotated, new Date(T0.getTime() + 3_599_999))).toEqual([NEW, OLD]);
    expect(validRootKeys(rotated, new Date(T0.getTime() + 3_600_000))).toEqual([NEW]);
  });

  test('without an end, the previous key stays valid until the hand-over is finished', () => {
    const rotated = rotateRootKeys({ current: OLD }, T0, undefined, NEW);
    expect(serializeRootKeys(rotated)).toBe(JSON.stringify({ current: NEW, previous: OLD }));
    expect(validRootKeys(rotated, new Date('2100-01-01'))).toEqual([NEW, OLD]);
    const finished = finishRootKeyHandOver(rotated);
    expect(serializeRootKeys(finished)).toBe(NEW);
    expect(validRootKeys(finished, T0)).toEqual([NEW]);
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
