import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { hashKey, type RootKeySource } from '../core/access.ts';

/** Root key given directly (local profile: `SLUICE_ROOT_KEY`). */
export function staticRootKey(rootKey: string): RootKeySource {
  const hash = hashKey(rootKey);
  return { hash: async () => hash };
}

/** Root key held in Secrets Manager (deployed stack); read once per container. */
export function secretsManagerRootKey(secretArn: string, client = new SecretsManagerClient({})): RootKeySource {
  let hash: Promise<string> | undefined;
  return {
    hash: () => {
      hash ??= readSecret(client, secretArn).then(hashKey);
      // A failed read must not be cached for the container's lifetime.
      hash.catch(() => {
        hash = undefined;
      });
      return hash;
    },
  };
}

export async function readSecret(client: SecretsManagerClient, secretArn: string): Promise<string> {
  const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (!SecretString) throw new Error(`secret ${secretArn} has no string value`);
  return SecretString;
}
