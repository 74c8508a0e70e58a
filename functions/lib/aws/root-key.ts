import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { hashKey, type RootKeySource } from '../core/access.ts';
import { KEY_REFRESH_SECONDS } from '../crypto/keyring.ts';
import { parseRootKeys, type RootKeys, validRootKeys } from '../crypto/root-keys.ts';
import { RefreshSchedule, readSecret } from './secrets.ts';

/** Hashes once; which keys are valid is decided at each call, so a hand-over ends on time. */
function hashedRootKeys(keys: RootKeys, now: () => Date): () => string[] {
  const hashes = new Map([keys.current, ...(keys.previous ? [keys.previous] : [])].map((key) => [key, hashKey(key)]));
  return () => validRootKeys(keys, now()).map((key) => hashes.get(key) ?? hashKey(key));
}

/** Root key given directly (local profile: `SLUICE_ROOT_KEY`, a plain key or current/previous JSON). */
export function staticRootKey(value: string, now: () => Date = () => new Date()): RootKeySource {
  const valid = hashedRootKeys(parseRootKeys(value), now);
  return { hashes: async () => valid() };
}

/**
 * Root key held in Secrets Manager (deployed stack). Re-read every `refreshSeconds`, so a rotation
 * reaches warm containers within minutes; until then they go on accepting the keys they know.
 */
export function secretsManagerRootKey(
  secretArn: string,
  client: SecretsManagerClient,
  options: { now?: () => Date; refreshSeconds?: number } = {},
): RootKeySource {
  const now = options.now ?? (() => new Date());
  const refresh = new RefreshSchedule(options.refreshSeconds ?? KEY_REFRESH_SECONDS, () => now().getTime());
  let valid: (() => string[]) | undefined;
  let reading: Promise<() => string[]> | undefined;
  const read = () => {
    reading ??= readSecret(client, secretArn)
      .then((text) => {
        valid = hashedRootKeys(parseRootKeys(text), now);
        refresh.succeeded();
        return valid;
      })
      .catch((error: unknown) => {
        refresh.failed();
        throw error;
      })
      .finally(() => {
        reading = undefined;
      });
    return reading;
  };
  return {
    hashes: async () => {
      // The first read must succeed; a failed refresh keeps the keys already known.
      if (!valid) return (await read())();
      if (refresh.due()) await read().catch(() => undefined);
      return valid();
    },
  };
}
