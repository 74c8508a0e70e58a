/**
 * The synthesised Sluice template, checked against the shared description (infra/description.ts)
 * and the route table. Grants: access.test.ts; alarms, metrics and dashboard: observability.test.ts;
 * CDK context: config.test.ts; cdk-nag: nag.test.ts.
 */

import { App, Stack, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { functionAccess } from '#infra/access';
import { DeliveryPipeline, maxStreamRecordAge } from '#infra/constructs/delivery-pipeline';
import { hookRateLimitEnvName, hookRouteNames } from '#infra/constructs/inbound-hooks';
import { QueueWithDeadLetter } from '#infra/constructs/queue-with-dead-letter';
import {
  apiFunctions,
  consumers,
  keyRotationFunction,
  ledgerTable,
  noRouteFunction,
  type QueueName,
  queues,
  scheduledFunctions,
  streamConsumers,
} from '#infra/description';
import type { SluiceStack } from '#infra/sluice-stack';
import { corsPolicy, methodsOf, routeListOf } from '#lib/api/route-table';
import { routeTable } from '#lib/api/routes';
import { newDispatchedMessagePattern } from '#lib/aws/ledger-keys';
import { DEFAULT_CACHE_SECONDS } from '#lib/core/cache';
import { DEFAULT_TENANT_INGEST_PER_SECOND } from '#lib/core/ingest-budget';
import { REPLAY_STEP_MAX_RECEIVES } from '#lib/core/replay';
import { envNames } from '#lib/env';
import {
  createSluiceStack,
  environmentOf,
  getAttOf,
  logicalIdOf,
  type PolicyStatementJson,
  refOf,
  resource,
  resourcesOfType,
  statementsOf,
  synthTimeoutMs,
} from './support.ts';

describe('SluiceStack', () => {
  let stack: SluiceStack;
  let template: Template;

  beforeAll(() => {
    ({ stack } = createSluiceStack());
    template = Template.fromStack(stack);
  }, synthTimeoutMs);

  /** The event source mappings that read an SQS queue, and the ones that read the ledger's stream. */
  function mappings(source: 'queue' | 'stream') {
    const streamArn = JSON.stringify({ 'Fn::GetAtt': [logicalIdOf(stack.storage.table), 'StreamArn'] });
    return Object.values(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')).filter(
      (mapping) => (JSON.stringify(mapping.Properties?.EventSourceArn) === streamArn) === (source === 'stream'),
    );
  }

  describe('storage', () => {
    test('the ledger table has the described keys, every GSI, on-demand billing, PITR, TTL on history, a stream, encryption and is retained', () => {
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
          StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
          DeletionProtectionEnabled: true,
          GlobalSecondaryIndexes: ledgerTable.indexes.map((index) =>
            Match.objectLike({
              IndexName: index.name,
              KeySchema: [
                { AttributeName: index.partitionKey, KeyType: 'HASH' },
                { AttributeName: index.sortKey, KeyType: 'RANGE' },
              ],
              Projection:
                index.projection.type === 'INCLUDE'
                  ? { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.projection.attributes] }
                  : { ProjectionType: 'KEYS_ONLY' },
            }),
          ),
        }),
      });
    });

    test('the indexes copy no whole items: the listing indexes sort by the item id and carry at most a filter attribute', () => {
      expect(ledgerTable.stream).toBe('NEW_IMAGE');
      const table = resource(template, logicalIdOf(stack.storage.table)).Properties ?? {};
      const indexes = table.GlobalSecondaryIndexes as Array<{ IndexName: string; KeySchema: unknown; Projection: unknown }>;
      expect(indexes.map((index) => [index.IndexName, index.KeySchema, index.Projection])).toEqual([
        ['gsi1', keys('gsi1pk', 'id'), { ProjectionType: 'INCLUDE', NonKeyAttributes: ['type'] }],
        ['gsi2', keys('gsi2pk', 'id'), { ProjectionType: 'INCLUDE', NonKeyAttributes: ['status'] }],
        ['gsi3', keys('gsi3pk', 'id'), { ProjectionType: 'KEYS_ONLY' }],
        ['gsi4', keys('gsi4pk', 'id'), { ProjectionType: 'KEYS_ONLY' }],
        ['gsi5', keys('gsi5pk', 'gsi5sk'), { ProjectionType: 'INCLUDE', NonKeyAttributes: ['tenantId', 'endpointIds'] }],
      ]);
      // Every key attribute is a string, declared once (the shared `id` sort key included).
      const definitions = table.AttributeDefinitions as Array<{ AttributeName: string; AttributeType: string }>;
      expect(definitions.map((definition) => definition.AttributeName).sort()).toEqual(
        ['pk', 'sk', 'id', 'gsi1pk', 'gsi2pk', 'gsi3pk', 'gsi4pk', 'gsi5pk', 'gsi5sk'].sort(),
      );
      expect(new Set(definitions.map((definition) => definition.AttributeType))).toEqual(new Set(['S']));

      function keys(partitionKey: string, sortKey: string) {
        return [
          { AttributeName: partitionKey, KeyType: 'HASH' },
          { AttributeName: sortKey, KeyType: 'RANGE' },
        ];
      }
    });

    test('each queue redrives to its own dead-letter queue, kept 14 days; all are encrypted', () => {
      const queueNames = Object.keys(queues) as QueueName[];
      template.resourceCountIs('AWS::SQS::Queue', 2 * queueNames.length + streamConsumers.length);
      const deadLetterIds = new Set<string>();
      for (const name of queueNames) {
        const description = queues[name];
        const construct = stack.storage.queues[name];
        expect(resource(template, logicalIdOf(construct.queue)).Properties).toMatchObject({
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
        deadLetterIds.add(logicalIdOf(construct.deadLetterQueue));
      }
      expect(deadLetterIds.size).toBe(queueNames.length);
    });

    test('a replay step that keeps failing marks its task failed before the retry queue gives it to its DLQ', () => {
      expect(queues.retry.deadLetter.maxReceiveCount).toBeGreaterThan(REPLAY_STEP_MAX_RECEIVES);
    });

    test('each stream consumer has its own failure queue: encrypted, kept as described, and itself the end of the line', () => {
      expect(streamConsumers.map((consumer) => consumer.name)).toEqual(['dispatch']);
      expect([...stack.storage.failureQueues.keys()]).toEqual(streamConsumers.map((consumer) => consumer.name));
      for (const consumer of streamConsumers) {
        const failureQueue = stack.storage.failureQueueFor(consumer.name);
        expect(failureQueue.description).toBe(consumer.failureQueue);
        expect(failureQueue.queue.node.id).toBe(consumer.failureQueue.id);
        const properties = resource(template, logicalIdOf(failureQueue.queue)).Properties;
        // No redrive policy: nothing consumes it, so it is the end of the line (and alarmed).
        expect(properties).toEqual({
          MessageRetentionPeriod: consumer.failureQueue.retentionSeconds,
          SqsManagedSseEnabled: true,
          Tags: [
            { Key: 'sluice:component', Value: 'storage' },
            { Key: 'sluice:stage', Value: 'dev' },
          ],
        });
      }
      expect(stack.storage.failureQueueFor('dispatch').description).toMatchObject({
        id: 'DispatchFailureQueue',
        retentionSeconds: 14 * 24 * 3600,
      });
      expect(() => stack.storage.failureQueueFor('deliver')).toThrow(/No failure queue for the stream consumer deliver/);
    });

    test('every queue policy denies requests without TLS', () => {
      const policies = Object.values(resourcesOfType(template, 'AWS::SQS::QueuePolicy'));
      const queuesWithTlsOnly = policies.flatMap((policy) => {
        const deniesPlainHttp = statementsOf(policy.Properties?.PolicyDocument).some(
          (statement) =>
            statement.Effect === 'Deny' &&
            JSON.stringify(statement.Condition) === JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }),
        );
        return deniesPlainHttp ? (policy.Properties?.Queues as unknown[]) : [];
      });
      const failureQueueIds = [...stack.storage.failureQueues.values()].map((f) => logicalIdOf(f.queue));
      for (const id of failureQueueIds) expect(queuesWithTlsOnly).toContainEqual({ Ref: id });
      expect(queuesWithTlsOnly).toHaveLength(2 * Object.keys(queues).length + failureQueueIds.length);
    });

    test('the two keys are generated secrets encrypted with a rotating customer-managed KMS key; the data key and the KMS key are retained', () => {
      const keyId = logicalIdOf(stack.storage.secretsKey);
      template.resourceCountIs('AWS::KMS::Key', 1);
      template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ EnableKeyRotation: true }) });
      template.resourceCountIs('AWS::SecretsManager::Secret', 3);
      template.hasResourceProperties('AWS::SecretsManager::Secret', {
        KmsKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
        GenerateSecretString: Match.objectLike({ PasswordLength: 48, ExcludePunctuation: true }),
      });
      expect(resource(template, logicalIdOf(stack.storage.encryptionKey))).toMatchObject({
        DeletionPolicy: 'Retain',
        Properties: {
          KmsKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
          GenerateSecretString: expect.objectContaining({ PasswordLength: 43, RequireEachIncludedType: false }),
        },
      });
    });

    test("the root key's verifier is a secret of its own, created empty (only rotate-keys writes it) under Secrets Manager's AWS managed key", () => {
      const properties = resource(template, logicalIdOf(stack.storage.rootKeyVerifier)).Properties ?? {};
      for (const owned of ['GenerateSecretString', 'SecretString', 'KmsKeyId']) expect(properties).not.toHaveProperty(owned);
    });
  });

  describe('delivery pipeline', () => {
    test('each consumer reads its queue with ReportBatchItemFailures, the described batching and concurrency, and its queue has a redrive policy', () => {
      template.resourceCountIs('AWS::Lambda::EventSourceMapping', consumers.length + streamConsumers.length);
      const queueMappings = mappings('queue');
      expect(queueMappings).toHaveLength(consumers.length);
      for (const mapping of queueMappings) {
        expect(mapping.Properties?.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
        const [queueId] = getAttOf(mapping.Properties?.EventSourceArn);
        expect(resource(template, queueId).Properties?.RedrivePolicy).toEqual({
          deadLetterTargetArn: { 'Fn::GetAtt': [expect.any(String), 'Arn'] },
          maxReceiveCount: expect.any(Number),
        });
      }
      for (const consumer of consumers) {
        template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
          EventSourceArn: { 'Fn::GetAtt': [logicalIdOf(stack.storage.queues[consumer.queue].queue), 'Arn'] },
          FunctionName: { Ref: logicalIdOf(stack.deliveryPipeline.consumerFor(consumer.name).lambdaFunction) },
          BatchSize: consumer.batchSize,
          ScalingConfig: { MaximumConcurrency: consumer.maxConcurrency },
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          MaximumBatchingWindowInSeconds: consumer.maxBatchingWindowSeconds > 0 ? consumer.maxBatchingWindowSeconds : Match.absent(),
        });
      }
    });

    test('each stream consumer reads the ledger stream from the oldest record, filtered, bisecting failed batches, then giving them to its failure queue', () => {
      const streamMappings = mappings('stream');
      expect(streamMappings).toHaveLength(streamConsumers.length);
      for (const consumer of streamConsumers) {
        const fn = stack.deliveryPipeline.streamConsumerFor(consumer.name);
        const [mapping] = streamMappings.filter(
          (candidate) => refOf(candidate.Properties?.FunctionName) === logicalIdOf(fn.lambdaFunction),
        );
        expect(mapping?.Properties).toEqual({
          EventSourceArn: { 'Fn::GetAtt': [logicalIdOf(stack.storage.table), 'StreamArn'] },
          FunctionName: { Ref: logicalIdOf(fn.lambdaFunction) },
          StartingPosition: 'TRIM_HORIZON',
          BatchSize: consumer.batchSize,
          ...(consumer.maxBatchingWindowSeconds > 0 && { MaximumBatchingWindowInSeconds: consumer.maxBatchingWindowSeconds }),
          MaximumRetryAttempts: consumer.retryAttempts,
          BisectBatchOnFunctionError: true,
          MaximumRecordAgeInSeconds: 24 * 3600,
          DestinationConfig: {
            OnFailure: { Destination: { 'Fn::GetAtt': [logicalIdOf(stack.storage.failureQueueFor(consumer.name).queue), 'Arn'] } },
          },
          FilterCriteria: { Filters: [{ Pattern: JSON.stringify(consumer.filter) }] },
          Tags: [
            { Key: 'sluice:component', Value: 'delivery' },
            { Key: 'sluice:stage', Value: 'dev' },
          ],
        });
      }
      expect(maxStreamRecordAge.toSeconds()).toBe(24 * 3600);
    });

    test('dispatch is invoked only for new messages that still need dispatching, with the described batching', () => {
      const dispatch = streamConsumers.find((consumer) => consumer.name === 'dispatch');
      expect(dispatch).toMatchObject({
        batchSize: 100,
        maxBatchingWindowSeconds: 0,
        retryAttempts: 10,
        filter: newDispatchedMessagePattern,
      });
      const [mapping] = mappings('stream');
      if (!mapping) throw new Error('No stream event source mapping');
      const criteria = mapping.Properties?.FilterCriteria as { Filters?: Array<{ Pattern: string }> } | undefined;
      expect(criteria?.Filters).toHaveLength(1);
      const [filter] = criteria?.Filters ?? [];
      // Inserts of message items (sk MSG) in a NEW# sweeper shard, not attempted inline (a ping).
      expect(JSON.parse(filter?.Pattern ?? '')).toEqual({
        eventName: ['INSERT'],
        dynamodb: { NewImage: { sk: { S: ['MSG'] }, gsi5pk: { S: [{ prefix: 'NEW#' }] }, inline: { BOOL: [{ exists: false }] } } },
      });
      expect(mapping.Properties).not.toHaveProperty('FunctionResponseTypes');
      expect(mapping.Properties).not.toHaveProperty('ScalingConfig');
    });

    test('the retry lane is read by deliver-retries alone', () => {
      expect(Object.keys(queues).sort()).toEqual(['delivery', 'retry']);
      const retryMappings = Object.values(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')).filter(
        (mapping) => getAttOf(mapping.Properties?.EventSourceArn)[0] === logicalIdOf(stack.storage.queues.retry.queue),
      );
      expect(retryMappings).toHaveLength(1);
      expect(retryMappings[0]?.Properties?.FunctionName).toEqual({
        Ref: logicalIdOf(stack.deliveryPipeline.consumerFor('deliver-retries').lambdaFunction),
      });
    });

    test('every queue stays invisible for at least 6x the timeout of the function consuming it', () => {
      for (const mapping of mappings('queue')) {
        const [queueId] = getAttOf(mapping.Properties?.EventSourceArn);
        const functionId = refOf(mapping.Properties?.FunctionName);
        const visibilityTimeout = resource(template, queueId).Properties?.VisibilityTimeout;
        const functionTimeout = resource(template, functionId).Properties?.Timeout;
        expect(typeof visibilityTimeout).toBe('number');
        expect(typeof functionTimeout).toBe('number');
        expect(visibilityTimeout as number).toBeGreaterThanOrEqual(6 * (functionTimeout as number));
      }
    });

    test('the visibility-timeout check refuses a queue too short for its consumer', () => {
      const stackUnderTest = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Check');
      const shortRetry = new QueueWithDeadLetter(stackUnderTest, 'ShortRetry', {
        description: { ...queues.retry, visibilityTimeoutSeconds: 300 },
      });
      const retryConsumer = consumers.find((consumer) => consumer.queue === 'retry');
      if (!retryConsumer) throw new Error('No consumer reads the retry queue');
      const table = new dynamodb.Table(stackUnderTest, 'Table', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
      expect(
        () =>
          new DeliveryPipeline(stackUnderTest, 'Pipeline', {
            consumers: [retryConsumer],
            streamConsumers: [],
            scheduledFunctions: [],
            queues: { delivery: shortRetry, retry: shortRetry },
            table,
            failureQueues: new Map(),
            environment: {},
            logRetention: RetentionDays.ONE_DAY,
          }),
      ).toThrow(/Queue retry: visibility timeout 300 s is under 6 x the deliver-retries timeout \(60 s\)/);
    });

    test('a stream consumer needs a failure queue and a table with a stream', () => {
      const [dispatch] = streamConsumers;
      if (!dispatch) throw new Error('No stream consumer');
      const build = (stream: boolean, withFailureQueue: boolean) => {
        const stackUnderTest = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Check');
        const queue = new QueueWithDeadLetter(stackUnderTest, 'Queue', { description: queues.delivery });
        const table = new dynamodb.Table(stackUnderTest, 'Table', {
          partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
          ...(stream && { stream: dynamodb.StreamViewType.NEW_IMAGE }),
        });
        const failureQueue = { consumer: dispatch.name, description: dispatch.failureQueue, queue: queue.deadLetterQueue };
        return new DeliveryPipeline(stackUnderTest, 'Pipeline', {
          consumers: [],
          streamConsumers: [dispatch],
          scheduledFunctions: [],
          queues: { delivery: queue, retry: queue },
          table,
          failureQueues: new Map(withFailureQueue ? [[dispatch.name, failureQueue]] : []),
          environment: {},
          logRetention: RetentionDays.ONE_DAY,
        });
      };
      expect(() => build(true, true)).not.toThrow();
      expect(() => build(true, false)).toThrow(/Stream consumer dispatch has no failure queue/);
      expect(() => build(false, true)).toThrow(/DynamoDB Streams must be enabled/);
    });

    test('the sweeper runs on its EventBridge schedule, which may invoke it', () => {
      expect(scheduledFunctions.map((fn) => fn.name)).toEqual(['sweeper']);
      const sweeperId = logicalIdOf(stack.deliveryPipeline.scheduledFor('sweeper').lambdaFunction);
      const ruleId = logicalIdOf(stack.deliveryPipeline.ruleFor('sweeper'));
      template.resourceCountIs('AWS::Events::Rule', scheduledFunctions.length);
      expect(resource(template, ruleId).Properties).toMatchObject({
        ScheduleExpression: 'rate(1 minute)',
        State: 'ENABLED',
        Targets: [{ Arn: { 'Fn::GetAtt': [sweeperId, 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 60 } }],
      });
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
        FunctionName: { 'Fn::GetAtt': [sweeperId, 'Arn'] },
        SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
      });
      expect(stack.deliveryPipeline.consumers.has('sweeper')).toBe(false);
    });
  });

  describe('key rotation', () => {
    const rotationId = () => logicalIdOf(stack.keyRotation.rotationFunction.lambdaFunction);

    test('both secrets rotate on a schedule through the rotation function, never at deploy time', () => {
      template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 2);
      const schedules = Object.values(resourcesOfType(template, 'AWS::SecretsManager::RotationSchedule')).map((r) => r.Properties);
      expect(schedules).toEqual(
        expect.arrayContaining([
          {
            SecretId: { Ref: logicalIdOf(stack.storage.rootKey) },
            RotationLambdaARN: { 'Fn::GetAtt': [rotationId(), 'Arn'] },
            RotationRules: { ScheduleExpression: 'rate(90 days)' },
            RotateImmediatelyOnUpdate: false,
          },
          {
            SecretId: { Ref: logicalIdOf(stack.storage.encryptionKey) },
            RotationLambdaARN: { 'Fn::GetAtt': [rotationId(), 'Arn'] },
            RotationRules: { ScheduleExpression: 'rate(30 days)' },
            RotateImmediatelyOnUpdate: false,
          },
        ]),
      );
    });

    test('Secrets Manager may invoke the rotation function for this account only; each schedule waits for that permission and the grants', () => {
      const permissions = Object.entries(resourcesOfType(template, 'AWS::Lambda::Permission')).filter(
        ([, permission]) => JSON.stringify(permission.Properties?.FunctionName) === JSON.stringify({ 'Fn::GetAtt': [rotationId(), 'Arn'] }),
      );
      expect(permissions.map(([, permission]) => permission.Properties)).toEqual([
        {
          Action: 'lambda:InvokeFunction',
          FunctionName: { 'Fn::GetAtt': [rotationId(), 'Arn'] },
          Principal: 'secretsmanager.amazonaws.com',
          SourceAccount: { Ref: 'AWS::AccountId' },
        },
      ]);
      const roleId = logicalIdOf(stack.keyRotation.rotationFunction.role);
      const policyIds = Object.entries(resourcesOfType(template, 'AWS::IAM::Policy'))
        .filter(([, policy]) => JSON.stringify(policy.Properties?.Roles) === JSON.stringify([{ Ref: roleId }]))
        .map(([id]) => id);
      expect(policyIds).toHaveLength(1);
      const schedules = template.findResources('AWS::SecretsManager::RotationSchedule') as Record<string, { DependsOn?: string[] }>;
      for (const schedule of Object.values(schedules)) {
        expect(schedule.DependsOn).toEqual(expect.arrayContaining([permissions[0]?.[0], roleId, ...policyIds]));
      }
    });

    test('the rotation function rotates each secret with exactly the rotation actions, and uses the KMS key through Secrets Manager for that secret only', () => {
      const roleId = logicalIdOf(stack.keyRotation.rotationFunction.role);
      const statements = Object.values(resourcesOfType(template, 'AWS::IAM::Policy'))
        .filter((policy) => JSON.stringify(policy.Properties?.Roles) === JSON.stringify([{ Ref: roleId }]))
        .flatMap((policy) => statementsOf(policy.Properties?.PolicyDocument));
      for (const secret of [stack.storage.rootKey, stack.storage.encryptionKey]) {
        expect(statements).toContainEqual({
          Effect: 'Allow',
          Action: [
            'secretsmanager:DescribeSecret',
            'secretsmanager:GetSecretValue',
            'secretsmanager:PutSecretValue',
            'secretsmanager:UpdateSecretVersionStage',
          ],
          Resource: { Ref: logicalIdOf(secret) },
        });
        expect(statements).toContainEqual({
          Effect: 'Allow',
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: { 'Fn::GetAtt': [logicalIdOf(stack.storage.secretsKey), 'Arn'] },
          Condition: {
            StringEquals: {
              'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
              'kms:EncryptionContext:SecretARN': { Ref: logicalIdOf(secret) },
            },
          },
        });
      }
      // No GetRandomPassword (on "*"): the function makes its own keys.
      expect(statements.flatMap((statement) => [statement.Action].flat())).not.toContain('secretsmanager:GetRandomPassword');
    });

    test('only the rotation function holds the root-key secret and the hand-over, from rootKeyHandOverHours', () => {
      expect(environmentOf(template, rotationId())).toMatchObject({
        [envNames.rootKeyHandOverSeconds]: String(24 * 3600),
        [envNames.rootKeySecretArn]: { Ref: logicalIdOf(stack.storage.rootKey) },
      });
      const others = [...stack.functions.values()].filter((fn) => fn !== stack.keyRotation.rotationFunction);
      for (const fn of others) {
        const variables = environmentOf(template, logicalIdOf(fn.lambdaFunction));
        expect(variables).not.toHaveProperty(envNames.rootKeyHandOverSeconds);
        expect(variables).not.toHaveProperty(envNames.rootKeySecretArn);
      }
    });

    test('the first verifier: a custom resource served by the rotation function itself, before any function that reads it', () => {
      const syncId = logicalIdOf(stack.keyRotation.verifierSync);
      const sync = template.toJSON().Resources?.[syncId] as { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };
      expect(sync.Type).toBe('Custom::SluiceRootKeyVerifier');
      expect(sync.Properties).toEqual({
        ServiceToken: { 'Fn::GetAtt': [rotationId(), 'Arn'] },
        ServiceTimeout: '300',
        RootKeySecretArn: { Ref: logicalIdOf(stack.storage.rootKey) },
        VerifierSecretArn: { Ref: logicalIdOf(stack.storage.rootKeyVerifier) },
      });
      // It runs once the rotation function may read the key and write the verifier.
      const roleId = logicalIdOf(stack.keyRotation.rotationFunction.role);
      const policyIds = Object.entries(resourcesOfType(template, 'AWS::IAM::Policy'))
        .filter(([, policy]) => JSON.stringify(policy.Properties?.Roles) === JSON.stringify([{ Ref: roleId }]))
        .map(([id]) => id);
      expect(sync.DependsOn).toEqual(expect.arrayContaining([roleId, ...policyIds]));
      // No provider framework: no function beyond Sluice's own.
      expect(Object.keys(resourcesOfType(template, 'AWS::Lambda::Function'))).toHaveLength(stack.functions.size);
      // Every function that reads the verifier is created (or updated) after it is written.
      for (const [name, fn] of stack.functions) {
        const dependsOn = (resource(template, logicalIdOf(fn.lambdaFunction)) as { DependsOn?: string[] }).DependsOn ?? [];
        expect({ name, waits: dependsOn.includes(syncId) }).toEqual({ name, waits: functionAccess[name]?.authenticates });
      }
    });

    test(
      'the rotation periods and the hand-over come from the CDK context',
      () => {
        const { stack: custom } = createSluiceStack({ rootKeyRotationDays: '7', dataKeyRotationDays: '14', rootKeyHandOverHours: '2' });
        const customTemplate = Template.fromStack(custom);
        const rates = Object.values(resourcesOfType(customTemplate, 'AWS::SecretsManager::RotationSchedule')).map(
          (r) => (r.Properties?.RotationRules as { ScheduleExpression?: string } | undefined)?.ScheduleExpression,
        );
        expect(rates.sort()).toEqual(['rate(14 days)', 'rate(7 days)']);
        const customRotationId = logicalIdOf(custom.keyRotation.rotationFunction.lambdaFunction);
        expect(environmentOf(customTemplate, customRotationId)[envNames.rootKeyHandOverSeconds]).toBe(String(2 * 3600));
      },
      synthTimeoutMs,
    );
  });

  describe('HTTP API', () => {
    test('every route of the contract exists once and is integrated with its own function', () => {
      for (const name of ['get-inbox-item', 'reveal-api-key', 'create-action', 'list-action-triggers', 'post-hook', 'get-hook']) {
        expect(routeTable.map((route) => route.name)).toContain(name);
      }
      // Every GET route also answers HEAD; and the `$default` route takes the rest.
      template.resourceCountIs('AWS::ApiGatewayV2::Route', routeTable.flatMap((route) => methodsOf(route.method)).length + 1);
      const integrations = resourcesOfType(template, 'AWS::ApiGatewayV2::Integration');
      const routes = Object.values(resourcesOfType(template, 'AWS::ApiGatewayV2::Route'));
      const integratedFunctions = new Set<string>();
      for (const route of routeTable) {
        const routeKey = `${route.method} ${route.path}`;
        const matching = routes.filter((candidate) => candidate.Properties?.RouteKey === routeKey);
        expect({ routeKey, count: matching.length }).toEqual({ routeKey, count: 1 });

        const target = matching[0]?.Properties?.Target as { 'Fn::Join': [string, [string, { Ref: string }]] };
        const [, [prefix, integrationRef]] = target['Fn::Join'];
        expect(prefix).toBe('integrations/');
        const functionId = logicalIdOf(stack.functions.get(route.name)?.lambdaFunction ?? stack);
        expect(integrations[integrationRef.Ref]?.Properties).toMatchObject({
          IntegrationType: 'AWS_PROXY',
          PayloadFormatVersion: '2.0',
          IntegrationUri: { 'Fn::GetAtt': [functionId, 'Arn'] },
        });
        integratedFunctions.add(functionId);
      }
      expect(integratedFunctions.size).toBe(routeTable.length);
    });

    test('the $default route sends every request no route takes to the no-route function, which reads nothing', () => {
      const routes = Object.values(resourcesOfType(template, 'AWS::ApiGatewayV2::Route'));
      const defaults = routes.filter((route) => route.Properties?.RouteKey === '$default');
      expect(defaults).toHaveLength(1);
      const target = defaults[0]?.Properties?.Target as { 'Fn::Join': [string, [string, { Ref: string }]] };
      const [, [prefix, integrationRef]] = target['Fn::Join'];
      expect(prefix).toBe('integrations/');
      const functionId = logicalIdOf(stack.api.defaultRouteFunction.lambdaFunction);
      expect(resource(template, integrationRef.Ref).Properties).toMatchObject({
        IntegrationType: 'AWS_PROXY',
        PayloadFormatVersion: '2.0',
        IntegrationUri: { 'Fn::GetAtt': [functionId, 'Arn'] },
      });
      expect(stack.functions.get(noRouteFunction.name)).toBe(stack.api.defaultRouteFunction);
      // It answers 404 and 405 from the route list derived from the route declarations; no other function gets it.
      for (const [name, fn] of stack.functions) {
        expect({ name, routeList: environmentOf(template, logicalIdOf(fn.lambdaFunction))[envNames.routeList] }).toEqual({
          name,
          routeList: name === noRouteFunction.name ? routeListOf(routeTable) : undefined,
        });
      }
      // No route claims OPTIONS (or any method), so with corsOrigins set API Gateway still answers preflights itself.
      expect(routes.map((route) => String(route.Properties?.RouteKey)).filter((key) => /^(OPTIONS|ANY) /.test(key))).toEqual([]);
      // Only API Gateway may invoke it, from this API.
      const permissions = Object.values(resourcesOfType(template, 'AWS::Lambda::Permission')).filter(
        (permission) => JSON.stringify(permission.Properties?.FunctionName) === JSON.stringify({ 'Fn::GetAtt': [functionId, 'Arn'] }),
      );
      expect(permissions.map((permission) => permission.Properties?.Principal)).toEqual(['apigateway.amazonaws.com']);
    });

    test('the inbound hooks are their own construct, with the per-key rate limit only they read', () => {
      // The routes declared with a hook key: the two hook routes of the contract (§7).
      expect([...hookRouteNames].sort()).toEqual(['get-hook', 'post-hook']);
      expect([...stack.hooks.functions.keys()].sort()).toEqual([...hookRouteNames].sort());
      for (const name of hookRouteNames) expect(stack.api.functions.has(name)).toBe(false);
      for (const [name, fn] of stack.functions) {
        expect({ name, rateLimit: environmentOf(template, logicalIdOf(fn.lambdaFunction))[hookRateLimitEnvName] }).toEqual({
          name,
          rateLimit: hookRouteNames.includes(name) ? '10' : undefined,
        });
      }
    });

    test('every route key has an explicit throttle of its class; the stage default is the tightest', () => {
      const [stage] = Object.values(resourcesOfType(template, 'AWS::ApiGatewayV2::Stage'));
      const settings = stage?.Properties?.RouteSettings as Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }>;
      const routeKeys = Object.values(resourcesOfType(template, 'AWS::ApiGatewayV2::Route')).map((route) =>
        String(route.Properties?.RouteKey),
      );
      expect(Object.keys(settings).sort()).toEqual(routeKeys.sort());
      expect(routeKeys).toContain('$default');
      expect(settings['POST /v1/messages']).toEqual({ ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 });
      expect(settings['POST /v1/hooks']).toEqual({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 });
      expect(settings['GET /v1/hooks']).toEqual({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 });
      expect(settings['HEAD /v1/messages']).toEqual({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 });
      expect(settings['POST /v1/endpoints']).toEqual({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
      expect(settings.$default).toEqual({ ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 });
      expect(stage?.Properties?.DefaultRouteSettings).toMatchObject({ ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 });
      // CloudFormation must create the routes before the stage that names them.
      const dependsOn = (template.toJSON().Resources[logicalIdOf(stack.api.defaultStage)] as { DependsOn?: string[] }).DependsOn ?? [];
      const routeIds = Object.keys(resourcesOfType(template, 'AWS::ApiGatewayV2::Route'));
      expect(routeIds.filter((id) => !dependsOn.includes(id))).toEqual([]);
    });

    test('the API has one $default stage with JSON access logs', () => {
      template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        StageName: '$default',
        AutoDeploy: true,
        AccessLogSettings: {
          DestinationArn: { 'Fn::GetAtt': [logicalIdOf(stack.api.accessLogGroup), 'Arn'] },
          Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"'),
        },
      });
      expect(resource(template, logicalIdOf(stack.api.accessLogGroup)).Properties?.RetentionInDays).toBe(30);
      template.resourceCountIs('AWS::ApiGatewayV2::DomainName', 0);
    });
  });

  describe('functions', () => {
    test('every function runs Node 22 on arm64 with its own role, its own log group with retention, and the Sluice env', () => {
      const functions = resourcesOfType(template, 'AWS::Lambda::Function');
      expect(Object.keys(functions)).toHaveLength(
        apiFunctions.length + consumers.length + streamConsumers.length + scheduledFunctions.length + 2,
      );
      expect(stack.functions.size).toBe(Object.keys(functions).length);
      const logGroups = resourcesOfType(template, 'AWS::Logs::LogGroup');
      const usedLogGroups = new Set<string>();
      const usedRoles = new Set<string>();
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
        usedRoles.add(getAttOf(properties.Role)[0]);

        const variables = (properties.Environment as { Variables: Record<string, unknown> }).Variables;
        expect(variables).toMatchObject({
          POWERTOOLS_SERVICE_NAME: 'sluice',
          POWERTOOLS_METRICS_NAMESPACE: 'Sluice',
          NODE_OPTIONS: '--enable-source-maps',
          [envNames.profile]: 'aws',
          [envNames.tableName]: { Ref: logicalIdOf(stack.storage.table) },
          [envNames.retentionDays]: '30',
          [envNames.retryQueueUrl]: { Ref: logicalIdOf(stack.storage.queues.retry.queue) },
          [envNames.rootKeyVerifierArn]: { Ref: logicalIdOf(stack.storage.rootKeyVerifier) },
          [envNames.encryptionKeySecretArn]: { Ref: logicalIdOf(stack.storage.encryptionKey) },
          [envNames.sweepGraceSeconds]: '120',
          [envNames.endpointFailureWindowSeconds]: String(5 * 24 * 3600),
          [envNames.tenantIngestPerSecond]: String(DEFAULT_TENANT_INGEST_PER_SECOND),
          [envNames.cacheSeconds]: String(DEFAULT_CACHE_SECONDS),
          [envNames.deliveryQueueUrl]: { Ref: logicalIdOf(stack.storage.queues.delivery.queue) },
          [envNames.deliveryDeadLetterQueueUrl]: { Ref: logicalIdOf(stack.storage.queues.delivery.deadLetterQueue) },
        });
        // Nothing names the fan-out queue any more.
        expect(Object.keys(variables).filter((name) => /FAN_OUT/.test(name))).toEqual([]);
      }
      expect(usedLogGroups.size).toBe(Object.keys(functions).length);
      expect(usedRoles.size).toBe(Object.keys(functions).length);
      // The function log groups and the API access log group; nothing else logs.
      template.resourceCountIs('AWS::Logs::LogGroup', Object.keys(functions).length + 1);
    });

    test('no role carries an AWS-managed policy (AWSLambdaBasicExecutionRole may write any log group)', () => {
      for (const role of Object.values(resourcesOfType(template, 'AWS::IAM::Role'))) {
        expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
        expect(role.Properties?.AssumeRolePolicyDocument).toEqual({
          Version: '2012-10-17',
          Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }],
        });
      }
    });

    test('function timeouts and memory come from the description; the queue consumers reserve their event source maximum', () => {
      for (const description of [
        ...apiFunctions,
        ...consumers,
        ...streamConsumers,
        ...scheduledFunctions,
        keyRotationFunction,
        noRouteFunction,
      ]) {
        const fn = stack.functions.get(description.name);
        if (!fn) throw new Error(`No function ${description.name}`);
        const properties = resource(template, logicalIdOf(fn.lambdaFunction)).Properties;
        expect(properties).toMatchObject({ Timeout: description.timeoutSeconds, MemorySize: description.memoryMb });
        const consumer = consumers.find((c) => c.name === description.name);
        // An API burst cannot take the consumers' concurrency: their jobs never go to the DLQ for want of it.
        if (consumer) expect(properties?.ReservedConcurrentExecutions).toBe(consumer.maxConcurrency);
        else expect(properties).not.toHaveProperty('ReservedConcurrentExecutions');
      }
    });
  });

  test('no IAM, queue or topic policy grants on a wildcard resource, but ListStreams to the stream consumers', () => {
    // Key policies are left out: their `Resource` is always "*", which there means "this key".
    const streamConsumerRoles = new Set([...stack.deliveryPipeline.streamConsumers.values()].map((fn) => logicalIdOf(fn.role)));
    const statements: { statement: PolicyStatementJson; roles: string[] }[] = [];
    for (const type of ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy', 'AWS::SQS::QueuePolicy', 'AWS::SNS::TopicPolicy']) {
      for (const policy of Object.values(resourcesOfType(template, type))) {
        const roles = ((policy.Properties?.Roles as unknown[] | undefined) ?? []).map(refOf);
        statements.push(...statementsOf(policy.Properties?.PolicyDocument).map((statement) => ({ statement, roles })));
      }
    }
    for (const role of Object.values(resourcesOfType(template, 'AWS::IAM::Role'))) {
      for (const inline of (role.Properties?.Policies as Array<{ PolicyDocument: unknown }> | undefined) ?? []) {
        statements.push(...statementsOf(inline.PolicyDocument).map((statement) => ({ statement, roles: [] })));
      }
    }
    expect(statements.length).toBeGreaterThan(stack.functions.size);
    // dynamodb:ListStreams supports no resource-level permissions: IAM grants it on "*" only. It
    // lists stream ARNs, no data; the stream itself is read on its own ARN (access.test.ts).
    const listStreams = { Action: 'dynamodb:ListStreams', Effect: 'Allow', Resource: '*' };
    const isListStreams = ({ statement, roles }: (typeof statements)[number]) =>
      JSON.stringify(statement) === JSON.stringify(listStreams) && roles.length === 1 && streamConsumerRoles.has(roles[0] ?? '');
    expect(statements.filter(isListStreams)).toHaveLength(streamConsumerRoles.size);
    const wildcard = statements
      .filter((entry) => !isListStreams(entry))
      .map(({ statement }) => statement)
      .filter((statement) => JSON.stringify(statement.Resource ?? null).includes('*'));
    expect(wildcard).toEqual([]);
    // Denies may be broad (the TLS-only queue and topic policies deny `sqs:*` / `sns:Publish` over plain HTTP).
    const wildcardActions = statements
      .map(({ statement }) => statement)
      .filter((statement) => statement.Effect === 'Allow' && [statement.Action].flat().some((action) => action.includes('*')));
    expect(wildcardActions).toEqual([]);
  });

  test('outputs the API URL, the portal URL, the root key secret name, the dashboard link, the alarm topic and the table name', () => {
    template.hasOutput('ApiUrl', { Value: Match.objectLike({ 'Fn::Join': Match.anyValue() }) });
    template.hasOutput('RootKeySecretName', { Value: Match.anyValue() });
    template.hasOutput('DashboardUrl', {
      Value: {
        'Fn::Join': [
          '',
          [
            'https://console.aws.amazon.com/cloudwatch/home?region=',
            { Ref: 'AWS::Region' },
            '#dashboards:name=',
            { Ref: logicalIdOf(stack.observability.dashboard) },
          ],
        ],
      },
    });
    template.hasOutput('AlarmTopicArn', { Value: { Ref: logicalIdOf(stack.observability.alarmTopic) } });
    template.hasOutput('TableName', { Value: { Ref: logicalIdOf(stack.storage.table) } });
    expect(Object.keys(template.toJSON().Outputs ?? {}).sort()).toEqual([
      'AlarmTopicArn',
      'ApiUrl',
      'DashboardUrl',
      'PortalUrl',
      'RootKeySecretName',
      'TableName',
    ]);
  });
});

describe('synthesis', () => {
  test(
    'is deterministic and environment-agnostic: no account, no region, no context lookups',
    () => {
      const { app, stack } = createSluiceStack();
      expect(Token.isUnresolved(stack.account)).toBe(true);
      expect(Token.isUnresolved(stack.region)).toBe(true);
      expect(app.synth().manifest.missing ?? []).toEqual([]);
      expect(Template.fromStack(createSluiceStack().stack).toJSON()).toEqual(Template.fromStack(stack).toJSON());
    },
    synthTimeoutMs,
  );
});

describe('CORS', () => {
  test('no origins configured: the HTTP API answers no preflight', () => {
    const { stack } = createSluiceStack();
    const api = Object.values(resourcesOfType(Template.fromStack(stack), 'AWS::ApiGatewayV2::Api'));
    expect(api.map((resource) => resource.Properties?.CorsConfiguration)).toEqual(api.map(() => undefined));
  });

  test('corsOrigins in the context: the API allows exactly those origins, with the policy of the route table', () => {
    const { stack } = createSluiceStack({ corsOrigins: 'https://app.example.com, https://portal.example.com' });
    Template.fromStack(stack).hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: {
        AllowOrigins: ['https://app.example.com', 'https://portal.example.com'],
        AllowHeaders: [...corsPolicy.allowHeaders],
        ExposeHeaders: [...corsPolicy.exposeHeaders],
        AllowMethods: [...corsPolicy.allowMethods],
        MaxAge: corsPolicy.maxAgeSeconds,
      },
    });
  });

  test('an origin that is not scheme://host[:port] is refused at synth', () => {
    expect(() => createSluiceStack({ corsOrigins: 'https://app.example.com/path' })).toThrow(/CORS origin/);
  });
});
