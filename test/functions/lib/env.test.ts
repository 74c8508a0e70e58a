import { type DeployedResources, environmentFor, loadConfig, tunables } from '../../../functions/lib/env.ts';

const deployed: DeployedResources = {
  profile: 'aws',
  tableName: 'ledger',
  queues: { delivery: 'https://sqs.test/delivery', deliveryDeadLetter: 'https://sqs.test/delivery-dlq', retry: 'https://sqs.test/retry' },
  rootKeyVerifier: { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:verifier' },
  encryptionKey: { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:data-key' },
};

describe('environmentFor', () => {
  test('is the inverse of loadConfig: the resources and every tunable come back as given', () => {
    const settings = {
      hookRateLimitPerSecond: 25,
      tenantIngestPerSecond: 0,
      cacheSeconds: 2.5,
      sweepGraceSeconds: 300,
      endpointFailureWindowSeconds: 86_400,
      retentionDays: 90,
      rootKeyHandOverSeconds: 3600,
    };
    const config = loadConfig(environmentFor({ ...deployed, rootKeySecretArn: 'arn:root' }, settings));
    expect(config).toMatchObject({
      profile: 'aws',
      tableName: 'ledger',
      queues: deployed.queues,
      rootKeyVerifier: deployed.rootKeyVerifier,
      encryptionKey: deployed.encryptionKey,
      rootKeySecretArn: 'arn:root',
      ...settings,
    });
  });

  test('a tunable left out keeps its one default', () => {
    const config = loadConfig(environmentFor(deployed));
    for (const [name, schema] of Object.entries(tunables)) {
      expect({ name, value: config[name as keyof typeof config] }).toEqual({ name, value: schema.parse(undefined) });
    }
    expect(config.rootKeySecretArn).toBeUndefined();
  });

  test('local keys are given as values, not secret ARNs', () => {
    const config = loadConfig(
      environmentFor({ ...deployed, profile: 'local', rootKeyVerifier: { value: '{"v":1}' }, encryptionKey: { value: 'k1:abc' } }),
    );
    expect(config).toMatchObject({ profile: 'local', rootKeyVerifier: { value: '{"v":1}' }, encryptionKey: { value: 'k1:abc' } });
  });
});
