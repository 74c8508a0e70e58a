import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import middy from '@middy/core';
import type { SecretsManagerRotationEvent } from 'aws-lambda';
import { documentClient } from './lib/aws/clients.ts';
import { rotateSecret } from './lib/aws/key-rotation.ts';
import { resealLedger } from './lib/aws/reseal.ts';
import { meterClient } from './lib/aws/usage-meter.ts';
import { logger } from './lib/edge/observability.ts';
import { loadConfig } from './lib/env.ts';

/**
 * Secrets Manager's rotation function for the root key and the data keyring (one function, both
 * secrets). It builds no container: it reads the secrets itself, at the version the step names.
 */
export const handler = middy<SecretsManagerRotationEvent, void>()
  .use(injectLambdaContext(logger))
  .handler(async (event) => {
    const config = loadConfig();
    if (!('secretArn' in config.rootKey) || !('secretArn' in config.encryptionKey)) {
      throw new Error('rotate-keys rotates Secrets Manager secrets: set both secret ARNs');
    }
    const table = {
      client: documentClient({ region: config.region, ...(config.endpoints.dynamodb && { endpoint: config.endpoints.dynamodb }) }),
      name: config.tableName,
      retentionDays: config.retentionDays,
    };
    logger.info('rotation step', { step: event.Step, secretId: event.SecretId });
    await rotateSecret(event, {
      client: meterClient(new SecretsManagerClient({ region: config.region }), 'secretsmanager'),
      rootKeySecretArn: config.rootKey.secretArn,
      encryptionKeySecretArn: config.encryptionKey.secretArn,
      rootKeyHandOverSeconds: config.rootKeyHandOverSeconds,
      reseal: (box) => resealLedger(table, box, { progress: (report) => logger.debug('re-seal progress', { ...report }) }),
      now: () => new Date(),
      log: (message, details) => logger.info(message, details ?? {}),
    });
  });
