/**
 * The synthesised Sluice template, checked against the shared description (infra/description.ts)
 * and the route table, plus the cdk-nag AwsSolutions pack. `aws:cdk:bundling-stacks: []` skips
 * esbuild, so these tests need the entry files to exist but never bundle them.
 */

import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { readSluiceConfig } from '#infra/config';
import { DeliveryPipeline } from '#infra/constructs/delivery-pipeline';
import { QueueWithDeadLetter } from '#infra/constructs/queue-with-dead-letter';
import { apiFunctions, consumers, envNames, ledgerTable, type QueueName, queues, scheduledFunctions } from '#infra/description';
import { acknowledgeNagFindings, applyNagChecks } from '#infra/nag-suppressions';
import { SluiceStack } from '#infra/sluice-stack';
import { routeTable } from '#lib/api/route-table';
import { loadConfig } from '#lib/env';

const synthTimeoutMs = 120_000;

interface CfnResourceJson {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
}

interface PolicyStatementJson {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource?: unknown;
}

function createSluiceStack(context: Record<string, unknown> = {}): { app: App; stack: SluiceStack } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
  const stack = new SluiceStack(app, 'Sluice', { config: readSluiceConfig(app) });
  return { app, stack };
}

/** The logical ID of a construct's CloudFormation resource (its default child for L2s). */
function logicalIdOf(construct: IConstruct): string {
  const element = construct instanceof CfnElement ? construct : construct.node.defaultChild;
  if (!(element instanceof CfnElement)) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return Stack.of(element).getLogicalId(element);
}

function resourcesOfType(template: Template, type: string): Record<string, CfnResourceJson> {
  return template.findResources(type) as Record<string, CfnResourceJson>;
}

function resource(template: Template, logicalId: string): CfnResourceJson {
  const found = template.toJSON().Resources?.[logicalId] as CfnResourceJson | undefined;
  if (!found) throw new Error(`No resource ${logicalId} in the template`);
  return found;
}

function statementsOf(document: unknown): PolicyStatementJson[] {
  return (document as { Statement?: PolicyStatementJson[] } | undefined)?.Statement ?? [];
}

function refOf(value: unknown): string {
  const ref = (value as { Ref?: unknown } | undefined)?.Ref;
  if (typeof ref !== 'string') throw new Error(`Expected a Ref, got ${JSON.stringify(value)}`);
  return ref;
}

function getAttOf(value: unknown): [string, string] {
  const getAtt = (value as { 'Fn::GetAtt'?: unknown } | undefined)?.['Fn::GetAtt'];
  if (!Array.isArray(getAtt) || getAtt.length !== 2) throw new Error(`Expected Fn::GetAtt, got ${JSON.stringify(value)}`);
  return [String(getAtt[0]), String(getAtt[1])];
}

describe('SluiceStack', () => {
  let stack: SluiceStack;
  let template: Template;

  beforeAll(() => {
    ({ stack } = createSluiceStack());
    template = Template.fromStack(stack);
  }, synthTimeoutMs);

  test('the ledger table has the described keys, every GSI, PITR, TTL, AWS-managed encryption and is retained', () => {
    expect(ledgerTable.indexes).toHaveLength(5);
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        KeySchema: [
          { AttributeName: ledgerTable.partitionKey, KeyType: 'HASH' },
          { AttributeName: ledgerTable.sortKey, KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: ledgerTable.ttlAttribute, Enabled: true },
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
        GlobalSecondaryIndexes: ledgerTable.indexes.map((index) =>
          Match.objectLike({
            IndexName: index.name,
            KeySchema: [
              { AttributeName: index.partitionKey, KeyType: 'HASH' },
              { AttributeName: index.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: index.projection },
          }),
        ),
      }),
    });
  });

  test('each queue redrives to its own dead-letter queue after the described receive count', () => {
    const queueNames = Object.keys(queues) as QueueName[];
    template.resourceCountIs('AWS::SQS::Queue', 2 * queueNames.length);
    for (const name of queueNames) {
      const description = queues[name];
      const construct = stack.queues[name];
      const queue = resource(template, logicalIdOf(construct.queue));
      expect(queue.Properties).toMatchObject({
        VisibilityTimeout: description.visibilityTimeoutSeconds,
        MessageRetentionPeriod: description.retentionSeconds,
        SqsManagedSseEnabled: true,
        RedrivePolicy: {
          deadLetterTargetArn: { 'Fn::GetAtt': [logicalIdOf(construct.deadLetterQueue), 'Arn'] },
          maxReceiveCount: description.deadLetter.maxReceiveCount,
        },
      });
      expect(resource(template, logicalIdOf(construct.deadLetterQueue)).Properties).toMatchObject({
        MessageRetentionPeriod: 14 * 24 * 3600,
        SqsManagedSseEnabled: true,
      });
    }
  });

  test('the retry lane is a third work queue with its own dead-letter queue, read with partial batch failures', () => {
    expect(Object.keys(queues).sort()).toEqual(['delivery', 'fanOut', 'retry']);
    const retry = stack.queues.retry;
    expect(resource(template, logicalIdOf(retry.queue)).Properties?.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [logicalIdOf(retry.deadLetterQueue), 'Arn'] },
      maxReceiveCount: queues.retry.deadLetter.maxReceiveCount,
    });
    expect(logicalIdOf(retry.deadLetterQueue)).not.toBe(logicalIdOf(stack.queues.delivery.deadLetterQueue));

    const retryMappings = Object.values(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')).filter(
      (mapping) => getAttOf(mapping.Properties?.EventSourceArn)[0] === logicalIdOf(retry.queue),
    );
    expect(retryMappings).toHaveLength(1);
    expect(retryMappings[0]?.Properties).toMatchObject({
      FunctionName: { Ref: logicalIdOf(stack.deliveryPipeline.functionFor('deliver-retries').lambdaFunction) },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  test('every queue policy denies requests without TLS', () => {
    const policies = Object.values(resourcesOfType(template, 'AWS::SQS::QueuePolicy'));
    const queuesWithTlsOnly = policies.flatMap((policy) => {
      const document = policy.Properties?.PolicyDocument as { Statement: Array<Record<string, unknown>> };
      const deniesPlainHttp = document.Statement.some(
        (statement) =>
          statement.Effect === 'Deny' &&
          JSON.stringify(statement.Condition) === JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }),
      );
      return deniesPlainHttp ? (policy.Properties?.Queues as unknown[]) : [];
    });
    expect(queuesWithTlsOnly).toHaveLength(2 * Object.keys(queues).length);
  });

  test('an alarm fires on any message visible in each dead-letter queue', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', Object.keys(queues).length);
    for (const name of Object.keys(queues) as QueueName[]) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalIdOf(stack.queues[name].deadLetterQueue), 'QueueName'] } }],
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
      });
    }
  });

  test('each consumer reads its queue with partial batch failures, the described batching and concurrency', () => {
    const mappings = Object.values(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping'));
    expect(mappings).toHaveLength(consumers.length);
    for (const mapping of mappings) {
      expect(mapping.Properties?.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    }
    for (const consumer of consumers) {
      const functionId = logicalIdOf(stack.deliveryPipeline.functionFor(consumer.name).lambdaFunction);
      const queueId = logicalIdOf(stack.queues[consumer.queue].queue);
      const expected: Record<string, unknown> = {
        EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
        FunctionName: { Ref: functionId },
        BatchSize: consumer.batchSize,
        ScalingConfig: { MaximumConcurrency: consumer.maxConcurrency },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        MaximumBatchingWindowInSeconds: consumer.maxBatchingWindowSeconds > 0 ? consumer.maxBatchingWindowSeconds : Match.absent(),
      };
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', expected);
    }
  });

  test('every queue stays invisible for at least 6x the timeout of the function consuming it', () => {
    for (const mapping of Object.values(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping'))) {
      const [queueId] = getAttOf(mapping.Properties?.EventSourceArn);
      const functionId = refOf(mapping.Properties?.FunctionName);
      const visibilityTimeout = resource(template, queueId).Properties?.VisibilityTimeout;
      const functionTimeout = resource(template, functionId).Properties?.Timeout;
      expect(typeof visibilityTimeout).toBe('number');
      expect(typeof functionTimeout).toBe('number');
      expect(visibilityTimeout as number).toBeGreaterThanOrEqual(6 * (functionTimeout as number));
    }
  });

  test('the visibility-timeout check covers every consumer, the retry lane included', () => {
    const stackUnderTest = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Check');
    const shortRetry = new QueueWithDeadLetter(stackUnderTest, 'ShortRetry', {
      description: { ...queues.retry, visibilityTimeoutSeconds: 300 },
    });
    const others = { fanOut: shortRetry, delivery: shortRetry };
    const retryConsumer = consumers.find((consumer) => consumer.queue === 'retry');
    if (!retryConsumer) throw new Error('No consumer reads the retry queue');
    expect(
      () =>
        new DeliveryPipeline(stackUnderTest, 'Pipeline', {
          consumers: [retryConsumer],
          queues: { ...others, retry: shortRetry },
          environment: {},
          logRetention: RetentionDays.ONE_DAY,
        }),
    ).toThrow(/Queue retry: visibility timeout 300 s is under 6 x the deliver-retries timeout \(60 s\)/);
  });

  test('every route of the route table exists and is integrated with its own function', () => {
    expect(routeTable).toHaveLength(31);
    for (const name of [
      'retry-delivery',
      'recover-endpoint',
      'list-dead-letters',
      'redrive-dead-letters',
      'rotate-endpoint-secret',
      'test-endpoint',
      'get-inbox-item',
      'ack-inbox-item',
      'list-inbox',
    ]) {
      expect(routeTable.map((route) => route.name)).toContain(name);
    }
    template.resourceCountIs('AWS::ApiGatewayV2::Route', routeTable.length);
    const integrations = resourcesOfType(template, 'AWS::ApiGatewayV2::Integration');
    const routes = Object.values(resourcesOfType(template, 'AWS::ApiGatewayV2::Route'));
    for (const route of routeTable) {
      const routeKey = `${route.method} ${route.path}`;
      const matching = routes.filter((candidate) => candidate.Properties?.RouteKey === routeKey);
      expect({ routeKey, count: matching.length }).toEqual({ routeKey, count: 1 });

      const target = matching[0]?.Properties?.Target as { 'Fn::Join': [string, [string, { Ref: string }]] };
      const [, [prefix, integrationRef]] = target['Fn::Join'];
      expect(prefix).toBe('integrations/');
      const integration = integrations[integrationRef.Ref];
      expect(integration?.Properties).toMatchObject({
        IntegrationType: 'AWS_PROXY',
        PayloadFormatVersion: '2.0',
        IntegrationUri: { 'Fn::GetAtt': [logicalIdOf(stack.api.functionFor(route.name).lambdaFunction), 'Arn'] },
      });
    }
  });

  test('the API has one $default stage with throttling and JSON access logs', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingBurstLimit: 200, ThrottlingRateLimit: 100 },
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [logicalIdOf(stack.api.accessLogGroup), 'Arn'] },
        Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"'),
      },
    });
  });

  test('every Lambda function runs Node 22 on arm64 with its own retained-for-a-month log group and the Sluice env', () => {
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');
    expect(Object.keys(functions)).toHaveLength(apiFunctions.length + consumers.length + scheduledFunctions.length);
    expect(stack.functions.size).toBe(Object.keys(functions).length);
    const logGroups = resourcesOfType(template, 'AWS::Logs::LogGroup');
    const usedLogGroups = new Set<string>();
    for (const [logicalId, fn] of Object.entries(functions)) {
      const properties = fn.Properties ?? {};
      expect({ logicalId, runtime: properties.Runtime, architectures: properties.Architectures }).toEqual({
        logicalId,
        runtime: 'nodejs22.x',
        architectures: ['arm64'],
      });
      expect(properties.TracingConfig).toBeUndefined();
      const logGroupId = refOf((properties.LoggingConfig as { LogGroup?: unknown } | undefined)?.LogGroup);
      expect(logGroups[logGroupId]?.Properties?.RetentionInDays).toBe(30);
      usedLogGroups.add(logGroupId);

      const variables = (properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(variables).toMatchObject({
        POWERTOOLS_SERVICE_NAME: 'sluice',
        POWERTOOLS_METRICS_NAMESPACE: 'Sluice',
        [envNames.profile]: 'aws',
        [envNames.tableName]: { Ref: logicalIdOf(stack.ledger.table) },
        [envNames.retentionDays]: '30',
        [envNames.retryQueueUrl]: { Ref: logicalIdOf(stack.queues.retry.queue) },
        [envNames.sweepGraceSeconds]: '120',
        [envNames.endpointFailureWindowSeconds]: String(5 * 24 * 3600),
      });
      for (const name of [
        envNames.fanOutQueueUrl,
        envNames.fanOutDeadLetterQueueUrl,
        envNames.deliveryQueueUrl,
        envNames.deliveryDeadLetterQueueUrl,
        envNames.retryQueueUrl,
        envNames.rootKeySecretArn,
        envNames.encryptionKeySecretArn,
      ]) {
        expect(variables[name]).toBeDefined();
      }
    }
    expect(usedLogGroups.size).toBe(Object.keys(functions).length);
  });

  test('function timeouts and memory come from the description', () => {
    for (const description of [...apiFunctions, ...consumers, ...scheduledFunctions]) {
      const fn = stack.functions.get(description.name);
      if (!fn) throw new Error(`No function ${description.name}`);
      expect(resource(template, logicalIdOf(fn.lambdaFunction)).Properties).toMatchObject({
        Timeout: description.timeoutSeconds,
        MemorySize: description.memoryMb,
      });
    }
  });

  test('no IAM or resource policy statement grants on a wildcard resource', () => {
    const statements: PolicyStatementJson[] = [];
    const collect = (document: unknown): void => {
      statements.push(...statementsOf(document));
    };
    for (const policy of Object.values(resourcesOfType(template, 'AWS::IAM::Policy'))) {
      collect(policy.Properties?.PolicyDocument);
    }
    for (const policy of Object.values(resourcesOfType(template, 'AWS::IAM::ManagedPolicy'))) {
      collect(policy.Properties?.PolicyDocument);
    }
    for (const role of Object.values(resourcesOfType(template, 'AWS::IAM::Role'))) {
      for (const inline of (role.Properties?.Policies as Array<{ PolicyDocument: unknown }> | undefined) ?? []) {
        collect(inline.PolicyDocument);
      }
    }
    for (const policy of Object.values(resourcesOfType(template, 'AWS::SQS::QueuePolicy'))) {
      collect(policy.Properties?.PolicyDocument);
    }
    expect(statements.length).toBeGreaterThan(0);
    const wildcard = statements.filter((statement) => JSON.stringify(statement.Resource ?? null).includes('*'));
    expect(wildcard).toEqual([]);
  });

  test('the sweeper runs on its EventBridge schedule, which may invoke it', () => {
    expect(scheduledFunctions.map((fn) => fn.name)).toEqual(['sweeper']);
    const sweeperId = logicalIdOf(stack.scheduled.functionFor('sweeper').lambdaFunction);
    const ruleId = logicalIdOf(stack.scheduled.ruleFor('sweeper'));
    template.resourceCountIs('AWS::Events::Rule', scheduledFunctions.length);
    expect(resource(template, ruleId).Properties).toMatchObject({
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [sweeperId, 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 60 },
        },
      ],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [sweeperId, 'Arn'] },
      SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
    });
    expect(stack.deliveryPipeline.functions.has('sweeper')).toBe(false);
    expect(stack.api.functions.has('sweeper')).toBe(false);
  });

  test('each function may send to exactly the queues it needs, and the rest to none', () => {
    type QueueRef = `${QueueName}` | `${QueueName} dead letters`;
    const queueRefs = new Map<string, QueueRef>();
    for (const name of Object.keys(queues) as QueueName[]) {
      queueRefs.set(logicalIdOf(stack.queues[name].queue), name);
      queueRefs.set(logicalIdOf(stack.queues[name].deadLetterQueue), `${name} dead letters`);
    }
    const roleNames = new Map([...stack.functions].map(([name, fn]) => [logicalIdOf(fn.lambdaFunction.role as IConstruct), name]));

    const sendsByFunction = new Map<string, Set<QueueRef>>([...stack.functions.keys()].map((name) => [name, new Set<QueueRef>()]));
    for (const policy of Object.values(resourcesOfType(template, 'AWS::IAM::Policy'))) {
      const sent = statementsOf(policy.Properties?.PolicyDocument)
        .filter((statement) => [statement.Action].flat().some((action) => action === 'sqs:SendMessage' || action === 'sqs:*'))
        .flatMap((statement) => [statement.Resource].flat())
        .map((queueResource) => {
          const ref = queueRefs.get(getAttOf(queueResource)[0]);
          if (!ref) throw new Error(`sqs:SendMessage on something other than a Sluice queue: ${JSON.stringify(queueResource)}`);
          return ref;
        });
      for (const role of (policy.Properties?.Roles as unknown[] | undefined) ?? []) {
        const name = roleNames.get(refOf(role));
        if (!name) throw new Error(`Policy attached to ${JSON.stringify(role)}, which is no Sluice function role`);
        for (const ref of sent) sendsByFunction.get(name)?.add(ref);
      }
    }

    const lanes: QueueRef[] = ['delivery', 'retry'];
    const attempts: QueueRef[] = [...lanes, 'delivery dead letters', 'fanOut'];
    const expected: Record<string, QueueRef[]> = {
      'create-message': ['fanOut'],
      'fan-out': [...lanes, 'fanOut dead letters'],
      deliver: attempts,
      'deliver-retries': attempts,
      'update-endpoint': lanes,
      'retry-delivery': ['retry'],
      'recover-endpoint': ['retry'],
      'redrive-dead-letters': ['retry'],
      'test-endpoint': [...lanes, 'fanOut'],
      sweeper: [...lanes, 'fanOut'],
    };
    const actual = Object.fromEntries([...sendsByFunction].map(([name, refs]) => [name, [...refs].sort()]));
    const wanted = Object.fromEntries([...stack.functions.keys()].map((name) => [name, [...(expected[name] ?? [])].sort()]));
    expect(actual).toEqual(wanted);

    // Spelled out for the ones that matter most.
    expect(actual['deliver-retries']).toEqual(expect.arrayContaining(['retry', 'fanOut']));
    expect(actual['list-dead-letters']).toEqual([]);
    // Nothing sends to the retry lane's dead-letter queue; only SQS redrives into it.
    expect(Object.values(actual).flat()).not.toContain('retry dead letters');
  });

  test('the root key and the data encryption key are generated secrets', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ PasswordLength: 48, ExcludePunctuation: true }),
    });
    template.hasResource('AWS::SecretsManager::Secret', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        GenerateSecretString: Match.objectLike({ PasswordLength: 43, RequireEachIncludedType: false }),
      }),
    });
  });

  test('outputs the API URL, the root key secret name and the table name', () => {
    template.hasOutput('ApiUrl', {});
    template.hasOutput('RootKeySecretName', { Value: Match.anyValue() });
    template.hasOutput('TableName', { Value: { Ref: logicalIdOf(stack.ledger.table) } });
  });
});

describe('Sluice CDK context', () => {
  test(
    'accepts command-line strings and turns deletion protection off when told',
    () => {
      const { stack } = createSluiceStack({ stage: 'test', tableDeletionProtection: 'false', logRetentionDays: '7' });
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
      template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
    },
    synthTimeoutMs,
  );

  test('rejects an invalid stage, log retention, history retention or sweeper grace', () => {
    expect(() => readSluiceConfig(new App({ context: { stage: 'Prod!' } }))).toThrow(/stage/);
    expect(() => readSluiceConfig(new App({ context: { logRetentionDays: '8' } }))).toThrow(/logRetentionDays/);
    expect(() => readSluiceConfig(new App({ context: { historyRetentionDays: '400' } }))).toThrow(/historyRetentionDays/);
    expect(() => readSluiceConfig(new App({ context: { sweepGraceSeconds: '0' } }))).toThrow(/sweepGraceSeconds/);
    expect(() => readSluiceConfig(new App({ context: { endpointFailureWindowSeconds: '1.5' } }))).toThrow(/endpointFailureWindowSeconds/);
  });

  test(
    'passes the sweeper grace and the failure window through, with the defaults the functions use',
    () => {
      const defaults = readSluiceConfig(new App());
      const runtime = loadConfig({
        [envNames.tableName]: 'ledger',
        [envNames.fanOutQueueUrl]: 'https://sqs.test/fan-out',
        [envNames.fanOutDeadLetterQueueUrl]: 'https://sqs.test/fan-out-dlq',
        [envNames.deliveryQueueUrl]: 'https://sqs.test/delivery',
        [envNames.deliveryDeadLetterQueueUrl]: 'https://sqs.test/delivery-dlq',
        [envNames.retryQueueUrl]: 'https://sqs.test/retry',
        [envNames.rootKeySecretArn]: 'root',
        [envNames.encryptionKeySecretArn]: 'encryption',
      });
      expect({
        sweepGraceSeconds: defaults.sweepGraceSeconds,
        endpointFailureWindowSeconds: defaults.endpointFailureWindowSeconds,
        historyRetentionDays: defaults.historyRetentionDays,
      }).toEqual({
        sweepGraceSeconds: runtime.sweepGraceSeconds,
        endpointFailureWindowSeconds: runtime.endpointFailureWindowSeconds,
        historyRetentionDays: runtime.retentionDays,
      });

      const { stack } = createSluiceStack({ sweepGraceSeconds: '300', endpointFailureWindowSeconds: '86400' });
      Template.fromStack(stack).allResourcesProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({ [envNames.sweepGraceSeconds]: '300', [envNames.endpointFailureWindowSeconds]: '86400' }),
        },
      });
    },
    synthTimeoutMs,
  );
});

describe('cdk-nag AwsSolutions', () => {
  test(
    'reports no unacknowledged error',
    () => {
      const { app, stack } = createSluiceStack();
      acknowledgeNagFindings(stack);
      const report = new AwsSolutionsChecks(app).validateScope(stack);
      const errors = report.violations
        .filter((violation) => violation.severity === 'error')
        .map((violation) => ({
          rule: violation.ruleName,
          resources: violation.violatingResources.map((violating) => violating.constructPath),
        }));
      expect(errors).toEqual([]);
    },
    synthTimeoutMs,
  );

  test(
    'synth passes with the pack registered the way infra/app.ts does it',
    () => {
      const { app, stack } = createSluiceStack({ nag: true });
      applyNagChecks(app, stack);
      // The policy-validation framework throws from synth when a plugin reports a failure.
      expect(() => app.synth()).not.toThrow();
    },
    synthTimeoutMs,
  );
});
