import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { RootKeySource } from '../core/access.ts';
import { KEY_REFRESH_SECONDS } from '../crypto/keyring.ts';
import { parseRootKeyVerifier, type RootKeyVerifier, validRootKeyHashes } from '../crypto/root-keys.ts';
import { RefreshSchedule, readSecret } from './secrets.ts';

/** The root key's verifier given directly (local profile: `SLUICE_ROOT_KEY_VERIFIER`). */
export function staticRootKeyVerifier(text: string, now: () => Date = () => new Date()): RootKeySource {
  const verifier = parseRootKeyVerifier(text);
  return { hashes: async () => validRootKeyHashes(verifier, now()) };
}

/**
 * The root key's verifier in its Secrets Manager secret (deployed stack), written by the rotation
 * function; the root key itself is out of reach. Re-read every `refreshSeconds`, so a rotation
 * reaches warm containers within minutes; until then they go on accepting the keys they know.
 */
export function secretsManagerRootKeyVerifier(
  secretArn: string,
  client: SecretsManagerClient,
  options: { now?: () => Date; refreshSeconds?: number } = {},
): RootKeySource {
  const now = options.now ?? (() => new Date());
  const refresh = new RefreshSchedule(options.refreshSeconds ?? KEY_REFRESH_SECONDS, () => now().getTime());
  let verifier: RootKeyVerifier | undefined;
  let reading: Promise<RootKeyVerifier> | undefined;
  const read = () => {
    reading ??= readSecret(client, secretArn)
      .then((text) => {
        verifier = parseRootKeyVerifier(text);
        refresh.succeeded();
        return verifier;
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
      // The first read must succeed; a failed refresh keeps the verifier already known.
      if (!verifier) return validRootKeyHashes(await read(), now());
      if (refresh.due()) await read().catch(() => undefined);
      return validRootKeyHashes(verifier, now());
    },
  };
}
