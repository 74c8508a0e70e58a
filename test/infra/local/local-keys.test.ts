/** The local stack's key file: files written before rotation existed keep working, and rotations round-trip. */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { keysEnvironment, localKeysFile, readLocalKeys, startupKeys, writeLocalKeys } from '#infra/local/local-keys';
import { hashKey } from '#lib/core/access';
import { parseKeyring, withNewCurrentKey } from '#lib/crypto/keyring';
import { parseRootKeyVerifier, rotateRootKeys, validRootKeyHashes } from '#lib/crypto/root-keys';
import { SecretBox } from '#lib/crypto/secret-box';

const ROOT = 'root_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';

describe('local-keys.json', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'sluice-local-keys-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  const fileText = () => readFileSync(localKeysFile(dataDir), 'utf8');

  test('a file from before rotation (a root key and a bare data key) is read as is and not rewritten', () => {
    const legacy = SecretBox.generateKey();
    const text = `${JSON.stringify({ rootKey: ROOT, encryptionKey: legacy }, null, 2)}\n`;
    writeFileSync(localKeysFile(dataDir), text);
    const keys = startupKeys(dataDir, undefined);
    expect(keys).toEqual({ rootKeys: { current: ROOT }, keyring: { current: 'k1', keys: { k1: legacy } } });
    expect(fileText()).toBe(text);
    expect(keysEnvironment(keys)).toEqual({
      rootKeyVerifier: JSON.stringify({ current: hashKey(ROOT) }),
      encryptionKey: JSON.stringify({ current: 'k1', keys: { k1: legacy } }),
    });
  });

  test('a new data dir gets a root key and one bare data key, readable by every version, mode 0600', () => {
    const keys = startupKeys(dataDir, undefined);
    const stored = JSON.parse(fileText()) as { rootKey: string; encryptionKey: unknown };
    expect(stored.rootKey).toBe(keys.rootKeys.current);
    expect(stored.rootKey).toMatch(/^root_/);
    expect(typeof stored.encryptionKey).toBe('string');
    expect(statSync(localKeysFile(dataDir)).mode & 0o777).toBe(0o600);
    expect(startupKeys(dataDir, undefined)).toEqual(keys);
  });

  test('rotations are written as a keyring and a hand-over, and read back; the environment carries the keyring and the root hashes, never a root key', () => {
    const first = startupKeys(dataDir, ROOT);
    const rotated = {
      rootKeys: rotateRootKeys(first.rootKeys, new Date()),
      keyring: withNewCurrentKey(first.keyring),
    };
    writeLocalKeys(dataDir, rotated);
    const stored = JSON.parse(fileText()) as Record<string, unknown>;
    expect(stored).toMatchObject({ rootKey: rotated.rootKeys.current, previousRootKey: ROOT, encryptionKey: { current: 'k2' } });
    expect(readLocalKeys(dataDir)).toEqual(rotated);
    expect(startupKeys(dataDir, undefined)).toEqual(rotated);
    const env = keysEnvironment(rotated);
    // The hand-over has no end locally: both keys work until finish-root-key and a restart.
    expect(parseRootKeyVerifier(env.rootKeyVerifier)).toEqual({
      current: hashKey(rotated.rootKeys.current),
      previous: { hash: hashKey(ROOT) },
    });
    expect(validRootKeyHashes(parseRootKeyVerifier(env.rootKeyVerifier), new Date('2100-01-01'))).toHaveLength(2);
    expect(JSON.stringify(env)).not.toContain(ROOT);
    expect(JSON.stringify(env)).not.toContain(rotated.rootKeys.current);
    expect(parseKeyring(env.encryptionKey)).toEqual(rotated.keyring);
  });

  test('SLUICE_ROOT_KEY replaces the current root key and ends a hand-over; the data keys stay', () => {
    const first = startupKeys(dataDir, undefined);
    writeLocalKeys(dataDir, { ...first, rootKeys: rotateRootKeys(first.rootKeys, new Date()) });
    const overridden = startupKeys(dataDir, ROOT);
    expect(overridden.rootKeys).toEqual({ current: ROOT });
    expect(overridden.keyring).toEqual(first.keyring);
    expect(JSON.parse(fileText())).not.toHaveProperty('previousRootKey');
  });

  test('in memory: fresh keys, nothing written', () => {
    const keys = startupKeys(undefined, ROOT);
    expect(keys.rootKeys).toEqual({ current: ROOT });
    expect(Object.keys(keys.keyring.keys)).toEqual(['k1']);
  });

  test('reading a data dir without keys says to start the stack once', () => {
    expect(() => readLocalKeys(dataDir)).toThrow(/start the stack once/);
  });
});
