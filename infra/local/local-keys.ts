/**
 * The local stack's keys, kept in the data dir as `local-keys.json` (mode 0600) so sealed secrets
 * open after a restart and the root key stays put:
 *
 * ```json
 * { "rootKey": "root_…", "previousRootKey": "root_…", "encryptionKey": { "current": "k2", "keys": { "k1": "…", "k2": "…" } } }
 * ```
 *
 * `rootKey` is the current root key (the README's tour reads it from here); `previousRootKey` is
 * there during a hand-over only. `encryptionKey` is the data keyring, or the bare base64 key files
 * written before rotation existed (read as key `k1`, left as it is until the first rotation).
 * `npm run keys` (infra/local/keys.ts) rotates both; the stack reads them when it starts.
 */
import { chmodSync, existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Keyring, parseKeyring, serializeKeyring } from '../../functions/lib/crypto/keyring.ts';
import { generateRootKey, type RootKeys, rootKeyVerifier, serializeRootKeyVerifier } from '../../functions/lib/crypto/root-keys.ts';
import { SecretBox } from '../../functions/lib/crypto/secret-box.ts';

interface StoredKeys {
  rootKey?: string;
  previousRootKey?: string;
  encryptionKey?: string | Keyring;
}

export interface LocalKeys {
  readonly rootKeys: RootKeys;
  readonly keyring: Keyring;
}

export function localKeysFile(dataDir: string): string {
  return path.join(dataDir, 'local-keys.json');
}

function readStored(dataDir: string): StoredKeys {
  const file = localKeysFile(dataDir);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as StoredKeys) : {};
}

/** The keys of a data dir; throws if it has none yet (the stack creates them at its first start). */
export function readLocalKeys(dataDir: string): LocalKeys {
  const stored = readStored(dataDir);
  if (!stored.rootKey || !stored.encryptionKey) {
    throw new Error(`${localKeysFile(dataDir)} holds no keys: start the stack once (npm start) to create them`);
  }
  return fromStored(stored as Required<Pick<StoredKeys, 'rootKey' | 'encryptionKey'>> & StoredKeys);
}

function fromStored(stored: StoredKeys & { rootKey: string; encryptionKey: string | Keyring }): LocalKeys {
  return {
    rootKeys: { current: stored.rootKey, ...(stored.previousRootKey && { previous: stored.previousRootKey }) },
    keyring:
      typeof stored.encryptionKey === 'string' ? parseKeyring(stored.encryptionKey) : parseKeyring(JSON.stringify(stored.encryptionKey)),
  };
}

/** Writes the keys back; a legacy bare data key stays bare while it is the only key. */
export function writeLocalKeys(dataDir: string, keys: LocalKeys): void {
  const stored = readStored(dataDir);
  const bare = typeof stored.encryptionKey === 'string' && Object.keys(keys.keyring.keys).length === 1 && !keys.keyring.next;
  writeStored(dataDir, {
    rootKey: keys.rootKeys.current,
    ...(keys.rootKeys.previous && { previousRootKey: keys.rootKeys.previous }),
    encryptionKey: bare ? stored.encryptionKey : keys.keyring,
  });
}

function writeStored(dataDir: string, stored: StoredKeys): void {
  const file = localKeysFile(dataDir);
  writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/**
 * The keys the stack starts with: those of the data dir (created at its first start: a root key
 * and one bare data key, the format every version reads), or fresh ones in memory.
 * `rootKeyOverride` (SLUICE_ROOT_KEY) replaces the current root key, ends any hand-over, and is
 * kept in the file, as before rotation existed.
 */
export function startupKeys(dataDir: string | undefined, rootKeyOverride: string | undefined): LocalKeys {
  const stored = dataDir ? readStored(dataDir) : {};
  const rootKey = rootKeyOverride ?? stored.rootKey ?? generateRootKey();
  const updated: StoredKeys = { ...stored, rootKey, encryptionKey: stored.encryptionKey ?? SecretBox.generateKey() };
  if (rootKey !== stored.rootKey) delete updated.previousRootKey;
  if (dataDir && JSON.stringify(updated) !== JSON.stringify(stored)) writeStored(dataDir, updated);
  return fromStored({ ...updated, rootKey, encryptionKey: updated.encryptionKey as string | Keyring });
}

/**
 * What the handlers read: `SLUICE_ROOT_KEY_VERIFIER` (the root key's hashes, as in AWS: never the key)
 * and `SLUICE_ENCRYPTION_KEY` (the keyring).
 */
export function keysEnvironment(keys: LocalKeys): { rootKeyVerifier: string; encryptionKey: string } {
  return { rootKeyVerifier: serializeRootKeyVerifier(rootKeyVerifier(keys.rootKeys)), encryptionKey: serializeKeyring(keys.keyring) };
}

/** Written while a stack runs on the data dir, so `npm run keys` can reach its DynamoDB and check its keys. */
export interface RunningStack {
  readonly pid: number;
  readonly dynamodbEndpoint: string;
  /** The data key the stack seals with: a re-seal must use the same one. */
  readonly dataKeyId: string;
}

export function runningFile(dataDir: string): string {
  return path.join(dataDir, 'running.json');
}

export function writeRunningStack(dataDir: string, running: RunningStack): void {
  writeFileSync(runningFile(dataDir), `${JSON.stringify(running, null, 2)}\n`);
}

export function clearRunningStack(dataDir: string, pid: number): void {
  const running = readRunningStack(dataDir);
  if (running?.pid === pid) unlinkSync(runningFile(dataDir));
}

/** The stack running on the data dir, if any (a file left by a killed stack names a dead process). */
export function readRunningStack(dataDir: string): RunningStack | undefined {
  const file = runningFile(dataDir);
  if (!existsSync(file)) return undefined;
  const running = JSON.parse(readFileSync(file, 'utf8')) as RunningStack;
  try {
    process.kill(running.pid, 0);
    return running;
  } catch {
    return undefined;
  }
}
