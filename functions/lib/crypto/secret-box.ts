import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { generateDataKey, type Keyring, keyBytes, LEGACY_KEY_ID, parseKeyring } from './keyring.ts';

/**
 * Seals what must be shown or used again (endpoint signing secrets, Basic-auth passwords, API
 * keys for "reveal") with AES-256-GCM, under the current key of a keyring (keyring.ts). The ring
 * comes from configuration: an environment variable locally, Secrets Manager in AWS.
 *
 * Formats (base64url parts):
 * - `v2.<keyId>.<iv>.<ciphertext>.<tag>`, sealed now; `v2.<keyId>` is authenticated data, so a
 *   value cannot be relabelled with another key id.
 * - `v1.<iv>.<ciphertext>.<tag>`, sealed before rotation existed, under the legacy key `k1`.
 */
export class SecretBox {
  private ring!: Keyring;
  private keys!: ReadonlyMap<string, Buffer>;
  private unknownKeyMet = false;

  /** `keyring`: the ring, or its stored text (keyring JSON, or a bare base64 key). */
  constructor(keyring: Keyring | string) {
    this.use(keyring);
  }

  static generateKey(): string {
    return generateDataKey();
  }

  /** Switches to a newer ring (a refresh of the secret); values sealed earlier keep opening while their key is in it. */
  use(keyring: Keyring | string): void {
    const ring = typeof keyring === 'string' ? parseKeyring(keyring) : keyring;
    this.keys = new Map(Object.entries(ring.keys).map(([id, key]) => [id, keyBytes(id, key)]));
    this.ring = ring;
    this.unknownKeyMet = false;
  }

  get currentKeyId(): string {
    return this.ring.current;
  }

  get keyIds(): readonly string[] {
    return [...this.keys.keys()];
  }

  /** True once a value under a key this ring lacks was met: the owner should re-read the ring soon. */
  get needsRefresh(): boolean {
    return this.unknownKeyMet;
  }

  seal(plaintext: string): string {
    const keyId = this.ring.current;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key(keyId), iv);
    cipher.setAAD(Buffer.from(`v2.${keyId}`, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v2', keyId, ...[iv, ciphertext, cipher.getAuthTag()].map((part) => part.toString('base64url'))].join('.');
  }

  open(sealed: string): string {
    const { keyId, iv, ciphertext, tag, aad } = parse(sealed);
    // A full 16-byte tag, or a forger needs far fewer guesses.
    const decipher = createDecipheriv('aes-256-gcm', this.key(keyId), Buffer.from(iv, 'base64url'), { authTagLength: 16 });
    if (aad) decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** The id of the key a value is sealed under (`k1` for a `v1.` value); throws if it is no sealed value. */
  keyIdOf(sealed: string): string {
    return parse(sealed).keyId;
  }

  /** Whether the value is sealed under the current key: the re-seal leaves those alone. */
  usesCurrentKey(sealed: string): boolean {
    return this.keyIdOf(sealed) === this.ring.current;
  }

  private key(keyId: string): Buffer {
    const key = this.keys.get(keyId);
    if (key) return key;
    this.unknownKeyMet = true;
    throw new Error(
      `sealed with data key ${keyId}, which this keyring (${this.keyIds.join(', ')}) does not hold: ` +
        'the keyring is older than the value (it is re-read every few minutes), or the key was removed from it',
    );
  }
}

function parse(sealed: string): { keyId: string; iv: string; ciphertext: string; tag: string; aad?: string } {
  const parts = sealed.split('.');
  if (parts[0] === 'v1' && parts.length === 4) {
    const [, iv, ciphertext, tag] = parts;
    if (iv && ciphertext !== undefined && tag) return { keyId: LEGACY_KEY_ID, iv, ciphertext, tag };
  }
  if (parts[0] === 'v2' && parts.length === 5) {
    const [, keyId, iv, ciphertext, tag] = parts;
    if (keyId && iv && ciphertext !== undefined && tag) return { keyId, iv, ciphertext, tag, aad: `v2.${keyId}` };
  }
  throw new Error('not a sealed value');
}
