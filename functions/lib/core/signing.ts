import { Webhook } from 'standardwebhooks';
import type { SigningSecret } from './model.ts';

/**
 * The `webhook-signature` header: one `v1,<base64>` per active secret, space-separated, so a
 * receiver verifying with either the old or the new secret accepts during a rotation.
 */
export function signatureHeader(secrets: readonly SigningSecret[], webhookId: string, timestamp: Date, body: string): string {
  return secrets.map((secret) => new Webhook(secret.value).sign(webhookId, timestamp, body)).join(' ');
}
