/**
 * CloudWatch: the alarm topic, an alarm on every dead-letter queue, on every stream consumer's
 * failure queue and on the delivery failure rate (all notifying the topic), per-endpoint metric
 * filters on the delivery log, the dashboard.
 */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { emfNamespace, endpointNamespace } from '#infra/constructs/observability';
import { type QueueName, queues, streamConsumers } from '#infra/description';
import type { SluiceStack } from '#infra/sluice-stack';
import { createSluiceStack, logicalIdOf, refOf, resource, resourcesOfType, statementsOf, synthTimeoutMs } from './support.ts';

describe('Observability', () => {
  let stack: SluiceStack;
  let template: Template;

  beforeAll(() => {
    ({ stack } = createSluiceStack());
    template = Template.fromStack(stack);
  }, synthTimeoutMs);

  test('an alarm fires on any message visible in each dead-letter queue', () => {
    for (const name of Object.keys(queues) as QueueName[]) {
      const alarm = stack.observability.deadLetterAlarms.get(name);
      if (!alarm) throw new Error(`No dead-letter alarm for ${name}`);
      expect(resource(template, logicalIdOf(alarm)).Properties).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Statistic: 'Maximum',
        Period: 60,
        Dimensions: [
          { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalIdOf(stack.storage.queues[name].deadLetterQueue), 'QueueName'] } },
        ],
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
    }
  });

  test('an alarm fires on any message visible in each failure queue, and says the sweeper still re-dispatches those messages', () => {
    expect([...stack.observability.failureQueueAlarms.keys()]).toEqual(streamConsumers.map((consumer) => consumer.name));
    for (const consumer of streamConsumers) {
      const alarm = stack.observability.failureQueueAlarms.get(consumer.name);
      if (!alarm) throw new Error(`No failure-queue alarm for ${consumer.name}`);
      expect(alarm.node.id).toBe(`${consumer.failureQueue.id}Alarm`);
      const properties = resource(template, logicalIdOf(alarm)).Properties;
      expect(properties).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Statistic: 'Maximum',
        Period: 60,
        Dimensions: [
          { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalIdOf(stack.storage.failureQueueFor(consumer.name).queue), 'QueueName'] } },
        ],
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
      expect(properties?.AlarmDescription).toEqual(expect.stringContaining(consumer.failureQueue.id));
      expect(properties?.AlarmDescription).toEqual(expect.stringContaining(`${consumer.name} gave up on them`));
      expect(properties?.AlarmDescription).toEqual(
        expect.stringContaining('the sweeper still re-dispatches every message without deliveries once its grace period has passed'),
      );
    }
  });

  test('the failure-rate alarm divides failed by attempts (EMF) over 5 minutes, only above the minimum attempts', () => {
    const properties = resource(template, logicalIdOf(stack.observability.failureRateAlarm)).Properties;
    expect(properties).toMatchObject({
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0.2,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
    const metrics = properties?.Metrics as Array<Record<string, unknown>>;
    expect(metrics.find((metric) => metric.ReturnData !== false)).toMatchObject({
      Expression: 'IF(attempts > 10, FILL(failed, 0) / attempts, 0)',
    });
    for (const [id, metricName] of [
      ['attempts', 'DeliveryAttempts'],
      ['failed', 'DeliveryFailed'],
    ]) {
      expect(metrics.find((metric) => metric.Id === id)).toEqual({
        Id: id,
        ReturnData: false,
        MetricStat: {
          Metric: { Namespace: emfNamespace, MetricName: metricName, Dimensions: [{ Name: 'service', Value: 'sluice' }] },
          Period: 300,
          Stat: 'Sum',
        },
      });
    }
  });

  test('every alarm notifies the alarm topic', () => {
    const alarms = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm'));
    // Dead-letter and failure queues, the delivery failure rate, failed key rotations.
    expect(alarms).toHaveLength(Object.keys(queues).length + streamConsumers.length + 2);
    for (const alarm of alarms) {
      expect(alarm.Properties?.AlarmActions).toEqual([{ Ref: logicalIdOf(stack.observability.alarmTopic) }]);
    }
  });

  test('a failed step of a key rotation alarms: any error of the rotation function within 5 minutes', () => {
    expect(resource(template, logicalIdOf(stack.observability.keyRotationAlarm)).Properties).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalIdOf(stack.keyRotation.rotationFunction.lambdaFunction) } }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  test('the alarm topic refuses plain HTTP and lets CloudWatch alarms of this account publish', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    const [policy] = Object.values(resourcesOfType(template, 'AWS::SNS::TopicPolicy'));
    const statements = statementsOf(policy?.Properties?.PolicyDocument);
    expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Action: 'sns:Publish',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Condition: expect.objectContaining({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
      }),
    );
  });

  test('per-endpoint metrics come from metric filters on the deliver and deliver-retries log groups, by endpointId', () => {
    const deliveryLogGroups = ['deliver', 'deliver-retries'].map((name) => logicalIdOf(stack.deliveryPipeline.consumerFor(name).logGroup));
    const filters = Object.values(resourcesOfType(template, 'AWS::Logs::MetricFilter'));
    expect(filters).toHaveLength(10);
    const byLogGroup = new Map<string, string[]>();
    for (const filter of filters) {
      const logGroup = refOf(filter.Properties?.LogGroupName);
      const [transformation] = (filter.Properties?.MetricTransformations ?? []) as Array<Record<string, unknown>>;
      expect(transformation).toMatchObject({
        MetricNamespace: endpointNamespace,
        Dimensions: [{ Key: 'endpointId', Value: '$.endpointId' }],
      });
      // CloudWatch refuses a default value on a filter with dimensions.
      expect(transformation).not.toHaveProperty('DefaultValue');
      expect(filter.Properties?.FilterPattern).toMatch(/^\{ \(?\$\.message = "delivery attempt"/);
      byLogGroup.set(logGroup, [...(byLogGroup.get(logGroup) ?? []), String(transformation?.MetricName)]);
    }
    expect([...byLogGroup.keys()].sort()).toEqual([...deliveryLogGroups].sort());
    for (const names of byLogGroup.values()) {
      expect(names.sort()).toEqual(['DeadLetters', 'DeliveryAttempts', 'DeliveryFailed', 'DeliveryLatency', 'DeliverySucceeded']);
    }
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: '{ ($.message = "delivery attempt") && ($.outcome != "succeeded") }',
      MetricTransformations: [Match.objectLike({ MetricName: 'DeliveryFailed', MetricValue: '1' })],
    });
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      MetricTransformations: [Match.objectLike({ MetricName: 'DeliveryLatency', MetricValue: '$.durationMs', Unit: 'Milliseconds' })],
    });
  });

  test('one dashboard, named after the stage and region, with the delivery, queue, endpoint, worker and API widgets', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const dashboard = resource(template, logicalIdOf(stack.observability.dashboard));
    expect(dashboard.Properties?.DashboardName).toEqual({ 'Fn::Join': ['', ['sluice-dev-', { Ref: 'AWS::Region' }]] });
    const body = JSON.stringify(dashboard.Properties?.DashboardBody);
    for (const title of [
      'Delivery attempts',
      'Failure rate (5 min)',
      'Delivery latency (ms)',
      'Dead-letter and failure queues',
      'Endpoints with the most failed attempts',
      'Attempts by endpoint (delivery log)',
      'Workers: errors and throttles',
      'API requests and errors',
    ]) {
      expect(body).toContain(title);
    }
    expect(body).toContain(`SCHEMA(\\\\\\"${endpointNamespace}\\\\\\", endpointId)`);
    // Every alarm is on the status widget; the failure queues are graphed with the dead-letter queues.
    for (const alarm of [
      ...stack.observability.deadLetterAlarms.values(),
      ...stack.observability.failureQueueAlarms.values(),
      stack.observability.failureRateAlarm,
    ]) {
      expect(body).toContain(logicalIdOf(alarm));
    }
    for (const failureQueue of stack.storage.failureQueues.values()) {
      expect(body).toContain(`\\"label\\":\\"${failureQueue.description.id}\\"`);
    }
    // The workers' errors and throttles include the stream consumers.
    for (const consumer of streamConsumers) expect(body).toContain(`${consumer.name} errors`);
  });
});

describe('Observability options', () => {
  test(
    'alarmEmail subscribes the address to the created topic; the threshold and minimum attempts are configurable',
    () => {
      const { stack } = createSluiceStack({ alarmEmail: 'ops@example.com', failureRateThreshold: '0.5', failureRateMinAttempts: '50' });
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: 'ops@example.com',
        TopicArn: { Ref: logicalIdOf(stack.observability.alarmTopic) },
      });
      const properties = resource(template, logicalIdOf(stack.observability.failureRateAlarm)).Properties;
      expect(properties?.Threshold).toBe(0.5);
      expect(JSON.stringify(properties?.Metrics)).toContain('IF(attempts > 50, FILL(failed, 0) / attempts, 0)');
    },
    synthTimeoutMs,
  );

  test(
    'alarmTopicArn sends every alarm to that topic and creates none',
    () => {
      const topicArn = 'arn:aws:sns:eu-west-1:123456789012:ops-alarms';
      const template = Template.fromStack(createSluiceStack({ alarmTopicArn: topicArn }).stack);
      template.resourceCountIs('AWS::SNS::Topic', 0);
      template.resourceCountIs('AWS::SNS::TopicPolicy', 0);
      for (const alarm of Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm'))) {
        expect(alarm.Properties?.AlarmActions).toEqual([topicArn]);
      }
      template.hasOutput('AlarmTopicArn', { Value: topicArn });
    },
    synthTimeoutMs,
  );
});
