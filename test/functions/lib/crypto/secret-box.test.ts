import { randomBytes } from 'node:crypto';
import { SecretBox } from '../../../../functions/lib/crypto/secret-box.ts';

const key = SecretBox.generateKey();
const box = new SecretBox(key);

/** Replaces the character at `index` of a base64url string by a different one. */
function flipChar(text: string, index: number): string {
  const current = text[index];
  const replacement = current === 'A' ? 'B' : 'A';
  return `${text.slice(0, index)}${replacement}${text.slice(index + 1)}`;
}

function parts(sealed: string): [string, string, string, string] {
  const [version = '', iv = '', ciphertext = '', tag = ''] = sealed.split('.');
  return [version, iv, ciphertext, tag];
}

describe('SecretBox', () => {
  test.each(['whsec_c2VjcmV0', 'p@ss:wörd 🔑', '', 'x'.repeat(10_000)])('round trip of %#', (plaintext) => {
    expect(box.open(box.seal(plaintext))).toBe(plaintext);
  });

  test('the sealed format is v1.<iv>.<ciphertext>.<tag> in base64url, with a 12-byte IV and a 16-byte tag', () => {
    const sealed = box.seal('whsec_abc');
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/);
    const [, iv, ciphertext, tag] = parts(sealed);
    expect(Buffer.from(iv, 'base64url')).toHaveLength(12);
    expect(Buffer.from(ciphertext, 'base64url')).toHaveLength('whsec_abc'.length);
    expect(Buffer.from(tag, 'base64url')).toHaveLength(16);
    expect(sealed).not.toContain('whsec_abc');
  });

  test('sealing twice gives different texts (a fresh IV each time)', () => {
    expect(box.seal('same')).not.toBe(box.seal('same'));
  });

  test('changing one character of the ciphertext is detected', () => {
    const [version, iv, ciphertext, tag] = parts(box.seal('a secret worth protecting'));
    // The first character always carries 6 significant bits, so flipping it changes the bytes.
    const tampered = [version, iv, flipChar(ciphertext, 0), tag].join('.');
    expect(() => box.open(tampered)).toThrow();
  });

  test('changing the IV or the tag is detected', () => {
    const [version, iv, ciphertext, tag] = parts(box.seal('a secret worth protecting'));
    expect(() => box.open([version, flipChar(iv, 0), ciphertext, tag].join('.'))).toThrow();
    expect(() => box.open([version, iv, ciphertext, flipChar(tag, 0)].join('.'))).toThrow();
  });

  test('another key cannot open it', () => {
    const sealed = box.seal('a secret');
    expect(() => new SecretBox(SecretBox.generateKey()).open(sealed)).toThrow();
  });

  test('the same key in another instance opens it', () => {
    expect(new SecretBox(key).open(box.seal('shared'))).toBe('shared');
  });

  test.each([
    ['31 bytes', randomBytes(31).toString('base64')],
    ['33 bytes', randomBytes(33).toString('base64')],
    ['16 bytes', randomBytes(16).toString('base64')],
    ['empty', ''],
  ])('a key of %s is refused', (_what, badKey) => {
    expect(() => new SecretBox(badKey)).toThrow('the encryption key must be 32 bytes, base64-encoded');
  });

  test('generateKey makes a base64 32-byte key', () => {
    expect(Buffer.from(SecretBox.generateKey(), 'base64')).toHaveLength(32);
  });

  test.each(['', 'plain', 'v2.a.b.c', 'v1.a.b', 'v1..b.c', 'v1.a.b.'])('%p is not a sealed value', (text) => {
    expect(() => box.open(text)).toThrow();
  });

  // Regression guard, fixed (functions/lib/crypto/secret-box.ts line 32-33): `createDecipheriv('aes-256-gcm', …)` is
  // called without `authTagLength`, and `setAuthTag` accepts any tag of 4 to 16 bytes. A sealed
  // value whose tag was cut down to 4 bytes therefore still opens, which drops the forgery bound
  // from 2^-128 to 2^-32. Fix: pass `{ authTagLength: 16 }` to createDecipheriv (or refuse a tag
  // that is not 16 bytes before calling setAuthTag).
  test('a truncated authentication tag is refused', () => {
    const [version, iv, ciphertext, tag] = parts(box.seal('a secret'));
    const short = Buffer.from(tag, 'base64url').subarray(0, 4).toString('base64url');
    expect(() => box.open([version, iv, ciphertext, short].join('.'))).toThrow();
  });
});
