import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { KEY_REFRESH_SECONDS } from '../crypto/keyring.ts';
import { SecretBox } from '../crypto/secret-box.ts';

/** How soon a failed read is tried again, and the most often `soon()` asks for one. */
const RETRY_MS = 30_000;

/** The current version's value. */
export async function readSecret(client: SecretsManagerClient, secretArn: string): Promise<string> {
  const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (!SecretString) throw new Error(`secret ${secretArn} has no string value`);
  return SecretString;
}

/** When to re-read a secret: every `refreshSeconds`, or 30 s after a failed read (never in a tight loop). */
export class RefreshSchedule {
  private nextAt = 0;
  private lastTry = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly refreshSeconds: number,
    private readonly nowMs: () => number = Date.now,
  ) {}

  due(): boolean {
    return this.nowMs() >= this.nextAt;
  }

  /** Asks for a read at the next opportunity (e.g. a value sealed under a key this process lacks), at most every 30 s. */
  soon(): void {
    this.nextAt = Math.min(this.nextAt, this.lastTry + RETRY_MS);
  }

  succeeded(): void {
    this.lastTry = this.nowMs();
    this.nextAt = this.lastTry + this.refreshSeconds * 1000;
  }

  failed(): void {
    this.lastTry = this.nowMs();
    this.nextAt = this.lastTry + Math.min(RETRY_MS, this.refreshSeconds * 1000);
  }
}

/** Re-reads the data keyring when due; called on every invocation (`use()` in the container), so it must be cheap when not due. */
export interface KeyRefresher {
  refresh(): Promise<void>;
}

/**
 * The SecretBox of a deployed stack: the data keyring read at cold start, then re-read every
 * `refreshSeconds`, and within 30 s after a value sealed under a key this ring lacks was met (the
 * failed call is retried by its queue or its caller). A failed or malformed read keeps the ring.
 */
export async function secretsManagerSecretBox(
  secretArn: string,
  client: SecretsManagerClient,
  options: { nowMs?: () => number; refreshSeconds?: number } = {},
): Promise<{ box: SecretBox; refresher: KeyRefresher }> {
  const schedule = new RefreshSchedule(options.refreshSeconds ?? KEY_REFRESH_SECONDS, options.nowMs);
  const box = new SecretBox(await readSecret(client, secretArn));
  schedule.succeeded();
  let reading: Promise<void> | undefined;
  const read = async () => {
    try {
      box.use(await readSecret(client, secretArn));
      schedule.succeeded();
    } catch {
      schedule.failed();
    }
  };
  return {
    box,
    refresher: {
      refresh: async () => {
        if (box.needsRefresh) schedule.soon();
        if (!schedule.due()) return;
        reading ??= read().finally(() => {
          reading = undefined;
        });
        await reading;
      },
    },
  };
}
