import { createCipheriv, randomBytes } from 'node:crypto';
import { type Keyring, serializeKeyring } from '../../../../functions/lib/crypto/keyring.ts';
import { SecretBox } from '../../../../functions/lib/crypto/secret-box.ts';

const key = SecretBox.generateKey();
const box = new SecretBox(key);

/** Replaces the character at `index` of a base64url string by a different one. */
function flipChar(text: string, index: number): string {
  const current = text[index];
  const replacement = current === 'A' ? 'B' : 'A';
  return `${text.slice(0, index)}${replacement}${text.slice(index + 1)}`;
}

/** The parts of a sealed value, the version and key id together as its head. */
function parts(sealed: string): [string, string, string, string] {
  const [version = '', keyId = '', iv = '', ciphertext = '', tag = ''] = sealed.split('.');
  return [`${version}.${keyId}`, iv, ciphertext, tag];
}

/** A value as SecretBox sealed it before key rotation existed: `v1.<iv>.<ciphertext>.<tag>`, no key id. */
function sealV1(base64Key: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(base64Key, 'base64'), iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', ...[iv, ciphertext, cipher.getAuthTag()].map((part) => part.toString('base64url'))].join('.');
}

describe('SecretBox', () => {
  test.each(['whsec_c2VjcmV0', 'p@ss:wörd 🔑', '', 'x'.repeat(10_000)])('round trip of %#', (plaintext) => {
    expect(box.open(box.seal(plaintext))).toBe(plaintext);
  });

  test('the sealed format is v2.<keyId>.<iv>.<ciphertext>.<tag> in base64url, with a 12-byte IV and a 16-byte tag', () => {
    const sealed = box.seal('whsec_abc');
    // A bare key is the legacy ring of one key, k1.
    expect(sealed).toMatch(/^v2\.k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/);
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

  test.each(['', 'plain', 'v2.a.b.c', 'v1.a.b', 'v1..b.c', 'v1.a.b.', 'v2.k1.a.b', 'v2..a.b.c', 'v3.k1.a.b.c'])(
    '%p is not a sealed value',
    (text) => {
      expect(() => box.open(text)).toThrow();
    },
  );

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

describe('SecretBox with a keyring', () => {
  const k1 = SecretBox.generateKey();
  const k2 = SecretBox.generateKey();
  const ring: Keyring = { current: 'k2', keys: { k1, k2 } };

  test('a value sealed before rotation (v1, the legacy key) opens with the bare key and with any ring holding it as k1', () => {
    const legacy = sealV1(k1, 'whsec_from_before');
    expect(new SecretBox(k1).open(legacy)).toBe('whsec_from_before');
    expect(new SecretBox(ring).open(legacy)).toBe('whsec_from_before');
    expect(new SecretBox(serializeKeyring(ring)).open(legacy)).toBe('whsec_from_before');
    expect(new SecretBox(ring).keyIdOf(legacy)).toBe('k1');
  });

  test('new values carry the current key id, and values of every key in the ring open', () => {
    const old = new SecretBox(k1).seal('sealed under k1');
    const rotated = new SecretBox(ring);
    const fresh = rotated.seal('sealed under k2');
    expect(fresh.startsWith('v2.k2.')).toBe(true);
    expect(rotated.open(old)).toBe('sealed under k1');
    expect(rotated.open(fresh)).toBe('sealed under k2');
    expect(rotated.currentKeyId).toBe('k2');
  });

  test('usesCurrentKey tells what the re-seal must rewrite', () => {
    const rotated = new SecretBox(ring);
    expect(rotated.usesCurrentKey(rotated.seal('x'))).toBe(true);
    expect(rotated.usesCurrentKey(new SecretBox(k1).seal('x'))).toBe(false);
    expect(rotated.usesCurrentKey(sealV1(k1, 'x'))).toBe(false);
    expect(new SecretBox(k1).usesCurrentKey(sealV1(k1, 'x'))).toBe(true);
    expect(() => rotated.usesCurrentKey('plain')).toThrow('not a sealed value');
  });

  test('a value under a key the ring lacks fails with a clear error, and marks the ring for a refresh', () => {
    const older = new SecretBox({ current: 'k1', keys: { k1 } });
    const sealed = new SecretBox(ring).seal('from a newer ring');
    expect(older.needsRefresh).toBe(false);
    expect(() => older.open(sealed)).toThrow(/sealed with data key k2, which this keyring \(k1\) does not hold/);
    expect(older.needsRefresh).toBe(true);
    older.use(ring);
    expect(older.needsRefresh).toBe(false);
    expect(older.open(sealed)).toBe('from a newer ring');
  });

  test('the key id is authenticated: relabelling a value with another key id of the ring fails', () => {
    const both = new SecretBox({ current: 'k1', keys: { k1, k2: k1 } });
    const sealed = both.seal('bound to k1');
    expect(() => both.open(sealed.replace(/^v2\.k1\./, 'v2.k2.'))).toThrow();
  });

  test('tampering with a v2 value is detected', () => {
    const rotated = new SecretBox(ring);
    const [head, iv, ciphertext, tag] = parts(rotated.seal('a secret worth protecting'));
    expect(() => rotated.open([head, iv, flipChar(ciphertext, 0), tag].join('.'))).toThrow();
    expect(() => rotated.open([head, flipChar(iv, 0), ciphertext, tag].join('.'))).toThrow();
    expect(() => rotated.open([head, iv, ciphertext, flipChar(tag, 0)].join('.'))).toThrow();
  });

  test('a keyring with a key that is not 32 bytes is refused, naming the key', () => {
    expect(() => new SecretBox({ current: 'k1', keys: { k1, k2: randomBytes(16).toString('base64') } })).toThrow(
      'data key k2: the encryption key must be 32 bytes, base64-encoded',
    );
  });
});
