import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { documentClient, secretsClient } from './lib/aws/clients.ts';
import { handleKeyEvent, type KeyEvent } from './lib/aws/key-rotation.ts';
import { resealLedger } from './lib/aws/reseal.ts';
import { loadTracer, logger, traceInvocations } from './lib/edge/observability.ts';
import { loadConfig } from './lib/env.ts';

/**
 * Secrets Manager's rotation function for the root key and the data keyring (one function, both
 * secrets), and the one writer of the root key's verifier (after a rotation, and once at deploy
 * through the stack's custom resource). It builds no container: it reads the secrets itself, at
 * the version the step names.
 */
export const handler = middy<KeyEvent, void>()
  .use(traceInvocations())
  .use(injectLambdaContext(logger))
  .handler(async (event) => {
    const config = loadConfig();
    if (!config.rootKeySecretArn || !('secretArn' in config.rootKeyVerifier) || !('secretArn' in config.encryptionKey)) {
      throw new Error('rotate-keys works on Secrets Manager secrets: set the root key, verifier and encryption key secret ARNs');
    }
    const tracer = await loadTracer();
    const table = {
      client: documentClient({
        region: config.region,
        ...(config.endpoints.dynamodb && { endpoint: config.endpoints.dynamodb }),
        ...(tracer && { tracer }),
      }),
      name: config.tableName,
      retentionDays: config.retentionDays,
    };
    logger.info(
      'key event',
      'Step' in event
        ? { step: event.Step, secretId: event.SecretId }
        : { kind: 'RequestType' in event ? event.RequestType : event.action },
    );
    await handleKeyEvent(event, {
      client: secretsClient({ region: config.region, ...(tracer && { tracer }) }),
      rootKeySecretArn: config.rootKeySecretArn,
      encryptionKeySecretArn: config.encryptionKey.secretArn,
      rootKeyVerifierArn: config.rootKeyVerifier.secretArn,
      rootKeyHandOverSeconds: config.rootKeyHandOverSeconds,
      reseal: (box) => resealLedger(table, box, { progress: (report) => logger.debug('re-seal progress', { ...report }) }),
      now: () => new Date(),
      log: (message, details) => logger.info(message, details ?? {}),
    });
  });
