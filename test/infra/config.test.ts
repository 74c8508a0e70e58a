/** CDK context (infra/config.ts): validation, defaults shared with the functions, and the optional features. */
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { consumerConcurrencyKeys, readSluiceConfig } from '#infra/config';
import { hookRateLimitEnvName } from '#infra/constructs/inbound-hooks';
import { consumers, streamConsumers } from '#infra/description';
import { envNames, loadConfig } from '#lib/env';
import { createSluiceStack, environmentOf, logicalIdOf, resource, resourcesOfType, synthTimeoutMs } from './support.ts';

function runtimeEnv(): Record<string, string> {
  return {
    [envNames.tableName]: 'ledger',
    [envNames.deliveryQueueUrl]: 'https://sqs.test/delivery',
    [envNames.deliveryDeadLetterQueueUrl]: 'https://sqs.test/delivery-dlq',
    [envNames.retryQueueUrl]: 'https://sqs.test/retry',
    [envNames.rootKeyVerifierArn]: 'root-verifier',
    [envNames.encryptionKeySecretArn]: 'encryption',
  };
}

function configWith(context: Record<string, unknown>) {
  return () => readSluiceConfig(new App({ context }));
}

describe('Sluice CDK context', () => {
  test(
    'accepts command-line strings and turns deletion protection off when told',
    () => {
      const { stack } = createSluiceStack({ stage: 'test', tableDeletionProtection: 'false', logRetentionDays: '7' });
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
      template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
      template.hasResourceProperties('AWS::ApiGatewayV2::Api', { Name: 'sluice-test' });
    },
    synthTimeoutMs,
  );

  test('rejects invalid values, each with the name of its key', () => {
    expect(configWith({ stage: 'Prod!' })).toThrow(/stage/);
    expect(configWith({ logRetentionDays: '8' })).toThrow(/logRetentionDays/);
    expect(configWith({ historyRetentionDays: '400' })).toThrow(/historyRetentionDays/);
    // Shorter than the scheduling window: a message scheduled a week ahead would expire before its time.
    expect(configWith({ historyRetentionDays: '7' })).toThrow(/at least 8 days: a message may be scheduled up to 7 days ahead/);
    expect(configWith({ historyRetentionDays: '8' })).not.toThrow();
    expect(configWith({ sweepGraceSeconds: '0' })).toThrow(/sweepGraceSeconds/);
    expect(configWith({ endpointFailureWindowSeconds: '1.5' })).toThrow(/endpointFailureWindowSeconds/);
    expect(configWith({ hookRateLimitPerSecond: '0' })).toThrow(/hookRateLimitPerSecond/);
    expect(configWith({ tenantIngestPerSecond: '-1' })).toThrow(/tenantIngestPerSecond/);
    expect(configWith({ tenantIngestPerSecond: '2.5' })).toThrow(/tenantIngestPerSecond/);
    expect(configWith({ cacheSeconds: '301' })).toThrow(/cacheSeconds/);
    expect(configWith({ cacheSeconds: '-1' })).toThrow(/cacheSeconds/);
    expect(configWith({ alarmEmail: 'not-an-address' })).toThrow(/alarmEmail/);
    expect(configWith({ alarmTopicArn: 'arn:aws:sqs:eu-west-1:123456789012:q' })).toThrow(/alarmTopicArn/);
    expect(configWith({ failureRateThreshold: '1.5' })).toThrow(/failureRateThreshold/);
    expect(configWith({ failureRateThreshold: '0' })).toThrow(/failureRateThreshold/);
    expect(configWith({ deliverMaxConcurrency: '1' })).toThrow(/deliverMaxConcurrency/);
    expect(configWith({ domainName: 'not a host' })).toThrow(/domainName/);
    expect(configWith({ rootKeyRotationDays: '0' })).toThrow(/rootKeyRotationDays/);
    expect(configWith({ dataKeyRotationDays: '1001' })).toThrow(/dataKeyRotationDays/);
    expect(configWith({ rootKeyHandOverHours: '721' })).toThrow(/rootKeyHandOverHours/);
    expect(configWith({ tracing: 'maybe' })).toThrow(/tracing/);
    expect(configWith({ tracingSampleRate: '-0.01' })).toThrow(/tracingSampleRate/);
    expect(configWith({ tracingSampleRate: '1.01' })).toThrow(/tracingSampleRate/);
    expect(configWith({ tracingSampleRate: 'often' })).toThrow(/tracingSampleRate/);
  });

  test('tracing is off by default; its sample rate is a share from 0 to 1', () => {
    expect(readSluiceConfig(new App())).toMatchObject({ tracing: false, tracingSampleRate: 0.05 });
    expect(configWith({ tracing: 'true', tracingSampleRate: '0' })()).toMatchObject({ tracing: true, tracingSampleRate: 0 });
    expect(configWith({ tracing: true, tracingSampleRate: 1 })()).toMatchObject({ tracing: true, tracingSampleRate: 1 });
    expect(configWith({ tracing: '0', tracingSampleRate: '0.25' })()).toMatchObject({ tracing: false, tracingSampleRate: 0.25 });
  });

  test('the root-key hand-over has the default and bound the rotation function reads', () => {
    const defaults = readSluiceConfig(new App());
    expect(defaults.rootKeyHandOverHours * 3600).toBe(loadConfig(runtimeEnv()).rootKeyHandOverSeconds);
    const longest = readSluiceConfig(new App({ context: { rootKeyHandOverHours: '720' } })).rootKeyHandOverHours * 3600;
    expect(loadConfig({ ...runtimeEnv(), [envNames.rootKeyHandOverSeconds]: String(longest) }).rootKeyHandOverSeconds).toBe(longest);
    expect(() => loadConfig({ ...runtimeEnv(), [envNames.rootKeyHandOverSeconds]: String(longest + 1) })).toThrow(
      envNames.rootKeyHandOverSeconds,
    );
    expect({ root: defaults.rootKeyRotationDays, data: defaults.dataKeyRotationDays }).toEqual({ root: 90, data: 30 });
  });

  test('rejects contradictory combinations', () => {
    expect(configWith({ alarmEmail: 'ops@example.com', alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:ops' })).toThrow(
      /alarmEmail.*not both/s,
    );
    expect(configWith({ domainName: 'hooks.example.com' })).toThrow(/both domainName and certificateArn/);
    expect(configWith({ certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc-123' })).toThrow(
      /both domainName and certificateArn/,
    );
    // The description's deliver maxConcurrency (50) is over a reserved concurrency of 20.
    expect(configWith({ deliverReservedConcurrency: '20' })).toThrow(
      /deliverMaxConcurrency \(50\) must not exceed deliverReservedConcurrency \(20\)/,
    );
    expect(configWith({ deliverReservedConcurrency: '20', deliverMaxConcurrency: '20' })).not.toThrow();
  });

  test('every queue consumer has its concurrency keys; the stream consumers have none', () => {
    expect(Object.keys(consumerConcurrencyKeys).sort()).toEqual(consumers.map((consumer) => consumer.name).sort());
    for (const consumer of streamConsumers) expect(consumerConcurrencyKeys).not.toHaveProperty(consumer.name);
  });

  test(
    'passes the sweeper grace, the failure window, the hook rate limit, the ingest budget and the cache age through, with the defaults the functions use',
    () => {
      const defaults = readSluiceConfig(new App());
      const runtime = loadConfig(runtimeEnv());
      expect({
        sweepGraceSeconds: defaults.sweepGraceSeconds,
        endpointFailureWindowSeconds: defaults.endpointFailureWindowSeconds,
        historyRetentionDays: defaults.historyRetentionDays,
        hookRateLimitPerSecond: defaults.hookRateLimitPerSecond,
        tenantIngestPerSecond: defaults.tenantIngestPerSecond,
        cacheSeconds: defaults.cacheSeconds,
      }).toEqual({
        sweepGraceSeconds: runtime.sweepGraceSeconds,
        endpointFailureWindowSeconds: runtime.endpointFailureWindowSeconds,
        historyRetentionDays: runtime.retentionDays,
        hookRateLimitPerSecond: runtime.hookRateLimitPerSecond,
        tenantIngestPerSecond: runtime.tenantIngestPerSecond,
        cacheSeconds: runtime.cacheSeconds,
      });
      // The functions read them under these names; 0 turns the ingest budget off on both sides.
      expect(loadConfig({ ...runtimeEnv(), [envNames.tenantIngestPerSecond]: '0', [envNames.cacheSeconds]: '0' })).toMatchObject({
        tenantIngestPerSecond: 0,
        cacheSeconds: 0,
      });
      expect(readSluiceConfig(new App({ context: { tenantIngestPerSecond: '0', cacheSeconds: '0' } }))).toMatchObject({
        tenantIngestPerSecond: 0,
        cacheSeconds: 0,
      });
      // The functions read the hook limit under this name.
      expect(loadConfig({ ...runtimeEnv(), [hookRateLimitEnvName]: '25' }).hookRateLimitPerSecond).toBe(25);

      const { stack } = createSluiceStack({
        sweepGraceSeconds: '300',
        endpointFailureWindowSeconds: '86400',
        hookRateLimitPerSecond: '25',
        tenantIngestPerSecond: '40',
        cacheSeconds: '2.5',
      });
      const template = Template.fromStack(stack);
      template.allResourcesProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({
            [envNames.sweepGraceSeconds]: '300',
            [envNames.endpointFailureWindowSeconds]: '86400',
            [envNames.tenantIngestPerSecond]: '40',
            [envNames.cacheSeconds]: '2.5',
          }),
        },
      });
      expect(environmentOf(template, logicalIdOf(stack.hooks.functionFor('post-hook').lambdaFunction))[hookRateLimitEnvName]).toBe('25');
    },
    synthTimeoutMs,
  );

  test(
    'a custom domain maps the $default stage and prints where to point DNS',
    () => {
      const certificateArn = 'arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789';
      const { stack } = createSluiceStack({ domainName: 'Hooks.Example.com', certificateArn });
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
        DomainName: 'hooks.example.com',
        DomainNameConfigurations: [{ CertificateArn: certificateArn, EndpointType: 'REGIONAL', SecurityPolicy: 'TLS_1_2' }],
      });
      template.hasResourceProperties('AWS::ApiGatewayV2::ApiMapping', {
        ApiId: { Ref: logicalIdOf(stack.api.httpApi) },
        DomainName: { Ref: logicalIdOf(stack.api.customDomain ?? stack) },
        Stage: '$default',
      });
      template.hasOutput('CustomDomainUrl', { Value: Match.anyValue() });
      template.hasOutput('CustomDomainTarget', { Value: Match.anyValue() });
    },
    synthTimeoutMs,
  );

  test(
    'consumer concurrency: the event source maximum and the function reservation come from the context',
    () => {
      const { stack } = createSluiceStack({
        deliverMaxConcurrency: '80',
        deliverReservedConcurrency: '100',
        deliverRetriesMaxConcurrency: '5',
      });
      const template = Template.fromStack(stack);
      const deliver = stack.deliveryPipeline.consumerFor('deliver');
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: logicalIdOf(deliver.lambdaFunction) },
        ScalingConfig: { MaximumConcurrency: 80 },
      });
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: logicalIdOf(stack.deliveryPipeline.consumerFor('deliver-retries').lambdaFunction) },
        ScalingConfig: { MaximumConcurrency: 5 },
      });
      expect(resource(template, logicalIdOf(deliver.lambdaFunction)).Properties?.ReservedConcurrentExecutions).toBe(100);
      // Without its own key, a consumer reserves its event source maximum.
      const retries = resource(template, logicalIdOf(stack.deliveryPipeline.consumerFor('deliver-retries').lambdaFunction));
      expect(retries.Properties?.ReservedConcurrentExecutions).toBe(5);
      const unreserved = Template.fromStack(createSluiceStack({ reserveConsumerConcurrency: 'false' }).stack);
      for (const fn of Object.values(resourcesOfType(unreserved, 'AWS::Lambda::Function'))) {
        expect(fn.Properties).not.toHaveProperty('ReservedConcurrentExecutions');
      }
    },
    synthTimeoutMs,
  );

  test('the reservations must leave Lambda its 100 unreserved executions of the account quota, checked at synth', () => {
    expect(() => createSluiceStack({ accountConcurrencyQuota: '150' })).toThrow(
      /the consumers reserve 70 concurrent executions, but an account quota of 150 leaves only 50 reservable/,
    );
    expect(() => createSluiceStack({ accountConcurrencyQuota: '170' })).not.toThrow();
    expect(() => createSluiceStack({ accountConcurrencyQuota: '150', reserveConsumerConcurrency: 'false' })).not.toThrow();
  });

  test(
    'a stage may override any setting under stages.<stage>; a setting that does not exist is refused',
    () => {
      const context = { tenantIngestPerSecond: '50', stages: { prod: { tenantIngestPerSecond: 500, ingestRateLimit: 2000 } } };
      expect(readSluiceConfig(new App({ context: { ...context, stage: 'prod' } }))).toMatchObject({
        stage: 'prod',
        tenantIngestPerSecond: 500,
        ingestRateLimit: 2000,
      });
      expect(readSluiceConfig(new App({ context: { ...context, stage: 'dev' } }))).toMatchObject({
        tenantIngestPerSecond: 50,
        ingestRateLimit: 500,
      });
      expect(() => readSluiceConfig(new App({ context: { stage: 'prod', stages: { prod: { tenantIngestPerSecnd: 1 } } } }))).toThrow(
        /stages\.prod names no setting tenantIngestPerSecnd/,
      );
      const { stack } = createSluiceStack({ stage: 'prod', stages: { prod: { tenantIngestPerSecond: 500 } } });
      for (const fn of Object.values(resourcesOfType(Template.fromStack(stack), 'AWS::Lambda::Function'))) {
        const variables = (fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
        if (envNames.tenantIngestPerSecond in variables) expect(variables[envNames.tenantIngestPerSecond]).toBe('500');
      }
    },
    synthTimeoutMs,
  );

  test(
    'cost allocation: every taggable resource names its stage, its component and the extra tags; an optional monthly budget',
    () => {
      const { stack } = createSluiceStack({ tags: '{"team":"payments"}', monthlyBudgetUsd: '250' });
      const template = Template.fromStack(stack);
      const functions = Object.values(resourcesOfType(template, 'AWS::Lambda::Function'));
      for (const fn of functions) {
        const tags = Object.fromEntries(((fn.Properties?.Tags ?? []) as { Key: string; Value: string }[]).map((t) => [t.Key, t.Value]));
        expect(tags).toMatchObject({
          'sluice:stage': 'dev',
          team: 'payments',
          'sluice:component': expect.stringMatching(/^(api|hooks|delivery|key-rotation)$/),
        });
      }
      template.hasResourceProperties('AWS::Budgets::Budget', {
        Budget: {
          BudgetName: 'sluice-dev-monthly',
          BudgetType: 'COST',
          TimeUnit: 'MONTHLY',
          BudgetLimit: { Amount: 250, Unit: 'USD' },
          CostFilters: { TagKeyValue: ['user:sluice:stage$dev'] },
        },
        NotificationsWithSubscribers: [
          Match.objectLike({ Notification: Match.objectLike({ NotificationType: 'ACTUAL', Threshold: 80 }) }),
          Match.objectLike({ Notification: Match.objectLike({ NotificationType: 'FORECASTED', Threshold: 100 }) }),
        ],
      });
      Template.fromStack(createSluiceStack().stack).resourceCountIs('AWS::Budgets::Budget', 0);
      expect(() => createSluiceStack({ tags: '{"bad tag!":"x"}' })).toThrow(/tags/);
    },
    synthTimeoutMs,
  );
});
