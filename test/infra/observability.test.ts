/**
 * CloudWatch, as an on-call engineer needs it (issue 14): alarms that catch a stalled pipeline,
 * each with alarm and OK actions and a runbook line in docs/operations.md; dead-letter alarms on
 * arrivals of what the pipeline could not process; no metric whose dimension grows with tenants or
 * endpoints unless opted into; Contributor Insights rules and saved queries for the per-endpoint view.
 */

import { readFileSync } from 'node:fs';
import { Match, Template } from 'aws-cdk-lib/assertions';
import {
  api5xxMinRequests,
  api5xxRateThreshold,
  emfNamespace,
  endpointMetricFilters,
  endpointNamespace,
  oldestMessageAgeSeconds,
  savedQueries,
} from '#infra/constructs/observability';
import { ledgerTable, type QueueName, queues, streamConsumers } from '#infra/description';
import type { SluiceStack } from '#infra/sluice-stack';
import { metricNames } from '#lib/edge/metric-names';
import { createSluiceStack, logicalIdOf, refOf, resource, resourcesOfType, statementsOf, synthTimeoutMs } from './support.ts';

describe('Observability', () => {
  let stack: SluiceStack;
  let template: Template;

  beforeAll(() => {
    ({ stack } = createSluiceStack());
    template = Template.fromStack(stack);
  }, synthTimeoutMs);

  /** An alarm's metric math: its expression and each input metric by id. */
  function mathOf(alarm: Parameters<typeof logicalIdOf>[0]): { expression: string; inputs: Record<string, Record<string, unknown>> } {
    const metrics = (resource(template, logicalIdOf(alarm)).Properties?.Metrics ?? []) as Array<Record<string, unknown>>;
    const result = metrics.find((metric) => metric.ReturnData !== false);
    const inputs = Object.fromEntries(
      metrics
        .filter((metric) => metric.ReturnData === false)
        .map((metric) => [String(metric.Id), metric.MetricStat as Record<string, unknown>]),
    );
    return { expression: String(result?.Expression), inputs };
  }

  test('each dead-letter queue alarms on arrivals in 5 minutes (sent, or a rise in visible messages), not on what sits there', () => {
    for (const name of Object.keys(queues) as QueueName[]) {
      const alarm = stack.observability.deadLetterAlarms.get(name);
      if (!alarm) throw new Error(`No dead-letter alarm for ${name}`);
      expect(resource(template, logicalIdOf(alarm)).Properties).toMatchObject({
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
      const { expression, inputs } = mathOf(alarm);
      expect(expression).toBe('FILL(sent, 0) + IF(DIFF(FILL(visible, 0)) > 0, DIFF(FILL(visible, 0)), 0)');
      const queueName = { 'Fn::GetAtt': [logicalIdOf(stack.storage.queues[name].deadLetterQueue), 'QueueName'] };
      expect(inputs.sent).toMatchObject({
        Metric: { MetricName: 'NumberOfMessagesSent', Dimensions: [{ Name: 'QueueName', Value: queueName }] },
        Period: 300,
        Stat: 'Sum',
      });
      expect(inputs.visible).toMatchObject({ Metric: { MetricName: 'ApproximateNumberOfMessagesVisible' }, Stat: 'Maximum' });
      expect(resource(template, logicalIdOf(alarm)).Properties?.AlarmDescription).toContain("Customers' exhausted retries never land here");
    }
  });

  test('each failure queue alarms on arrivals too, and says the sweeper still re-dispatches those messages', () => {
    expect([...stack.observability.failureQueueAlarms.keys()]).toEqual(streamConsumers.map((consumer) => consumer.name));
    for (const consumer of streamConsumers) {
      const alarm = stack.observability.failureQueueAlarms.get(consumer.name);
      if (!alarm) throw new Error(`No failure-queue alarm for ${consumer.name}`);
      expect(alarm.node.id).toBe(`${consumer.failureQueue.id}Alarm`);
      const queueName = { 'Fn::GetAtt': [logicalIdOf(stack.storage.failureQueueFor(consumer.name).queue), 'QueueName'] };
      expect(mathOf(alarm).inputs.sent).toMatchObject({ Metric: { Dimensions: [{ Name: 'QueueName', Value: queueName }] } });
      const description = String(resource(template, logicalIdOf(alarm)).Properties?.AlarmDescription);
      expect(description).toContain(`${consumer.name} gave up on them`);
      expect(description).toContain('the sweeper re-dispatches every message without deliveries once its grace period has passed');
    }
  });

  test('each delivery lane alarms when its oldest job waited too long for 3 of 5 minutes', () => {
    for (const name of Object.keys(queues) as QueueName[]) {
      const alarm = stack.observability.queueAgeAlarms.get(name);
      if (!alarm) throw new Error(`No queue-age alarm for ${name}`);
      expect(resource(template, logicalIdOf(alarm)).Properties).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalIdOf(stack.storage.queues[name].queue), 'QueueName'] } }],
        Statistic: 'Maximum',
        Period: 60,
        Threshold: oldestMessageAgeSeconds[name],
        EvaluationPeriods: 5,
        DatapointsToAlarm: 3,
      });
    }
    // The retry lane holds jobs up to SQS's 15-minute delay on purpose.
    expect(oldestMessageAgeSeconds.retry).toBeGreaterThan(900);
  });

  test('every worker (consumers, dispatch, sweeper) alarms on errors and on throttles, 3 of 5 minutes', () => {
    const workers = [...stack.deliveryPipeline.functions.values()];
    expect(workers.map((fn) => fn.description.name).sort()).toEqual(['deliver', 'deliver-retries', 'dispatch', 'sweeper']);
    for (const worker of workers) {
      const functionRef = { Ref: logicalIdOf(worker.lambdaFunction) };
      for (const [alarms, metricName] of [
        [stack.observability.workerErrorAlarms, 'Errors'],
        [stack.observability.workerThrottleAlarms, 'Throttles'],
      ] as const) {
        const alarm = alarms.get(worker.description.name);
        if (!alarm) throw new Error(`No ${metricName} alarm for ${worker.description.name}`);
        expect(resource(template, logicalIdOf(alarm)).Properties).toMatchObject({
          Namespace: 'AWS/Lambda',
          MetricName: metricName,
          Dimensions: [{ Name: 'FunctionName', Value: functionRef }],
          Statistic: 'Sum',
          Period: 60,
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
          EvaluationPeriods: 5,
          DatapointsToAlarm: 3,
        });
      }
    }
  });

  test('the sweeper not having run for 10 minutes alarms, and missing data counts as breaching', () => {
    expect(resource(template, logicalIdOf(stack.observability.sweeperStoppedAlarm)).Properties).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Invocations',
      Dimensions: [
        { Name: 'FunctionName', Value: { Ref: logicalIdOf(stack.deliveryPipeline.scheduledFunction('sweeper').lambdaFunction) } },
      ],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 2,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
  });

  test('the API alarms on its 5xx rate over 5 minutes, twice in a row, with enough requests to mean something', () => {
    const alarm = stack.observability.api5xxAlarm;
    expect(resource(template, logicalIdOf(alarm)).Properties).toMatchObject({ Threshold: api5xxRateThreshold, EvaluationPeriods: 2 });
    const { expression, inputs } = mathOf(alarm);
    expect(expression).toBe(`IF(requests >= ${api5xxMinRequests}, FILL(errors, 0) / requests, 0)`);
    expect(inputs.requests).toMatchObject({ Metric: { Namespace: 'AWS/ApiGateway', MetricName: 'Count' }, Stat: 'Sum', Period: 300 });
    expect(inputs.errors).toMatchObject({ Metric: { Namespace: 'AWS/ApiGateway', MetricName: '5xx' }, Stat: 'Sum' });
  });

  test('throttled ledger reads or writes (the table, or a write to any of its indexes) alarm, 3 of 5 minutes', () => {
    const alarm = stack.observability.tableThrottleAlarm;
    expect(resource(template, logicalIdOf(alarm)).Properties).toMatchObject({ EvaluationPeriods: 5, DatapointsToAlarm: 3, Threshold: 0 });
    const { inputs } = mathOf(alarm);
    const table = { Name: 'TableName', Value: { Ref: logicalIdOf(stack.storage.table) } };
    expect(inputs.tableReads).toMatchObject({
      Metric: { Namespace: 'AWS/DynamoDB', MetricName: 'ReadThrottleEvents', Dimensions: [table] },
    });
    expect(inputs.tableWrites).toMatchObject({ Metric: { MetricName: 'WriteThrottleEvents', Dimensions: [table] } });
    const indexes = Object.values(inputs).flatMap((input) =>
      ((input.Metric as { Dimensions: { Name: string; Value: unknown }[] }).Dimensions ?? [])
        .filter((dimension) => dimension.Name === 'GlobalSecondaryIndexName')
        .map((dimension) => dimension.Value),
    );
    expect(indexes.sort()).toEqual(ledgerTable.indexes.map((index) => index.name).sort());
  });

  test('the failure-rate alarm reads first attempts (primary lane) only: failed by attempts over 5 minutes, above the minimum attempts', () => {
    const properties = resource(template, logicalIdOf(stack.observability.failureRateAlarm)).Properties;
    expect(properties).toMatchObject({
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0.2,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
    const { expression, inputs } = mathOf(stack.observability.failureRateAlarm);
    expect(expression).toBe('IF(attempts > 10, FILL(failed, 0) / attempts, 0)');
    for (const [id, metricName] of [
      ['attempts', metricNames.primaryLaneAttempts],
      ['failed', metricNames.primaryLaneFailed],
    ] as const) {
      expect(inputs[id]).toEqual({
        Metric: { Namespace: emfNamespace, MetricName: metricName, Dimensions: [{ Name: 'service', Value: 'sluice' }] },
        Period: 300,
        Stat: 'Sum',
      });
    }
  });

  test('every alarm notifies the alarm topic when it fires and when it clears, and names its runbook', () => {
    const alarms = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(stack.observability.alarms.length);
    // Dead-letter, failure and queue-age per queue; errors and throttles per worker; sweeper, API, ledger, failure rate, key rotation.
    const workers = stack.deliveryPipeline.functions.size;
    expect(alarms).toHaveLength(2 * Object.keys(queues).length + streamConsumers.length + 2 * workers + 5);
    // GitHub's heading anchors: lower case, punctuation dropped, spaces as dashes.
    const anchors = new Set(
      [...readFileSync('docs/operations.md', 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) =>
        String(m[1])
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    for (const alarm of alarms) {
      expect(alarm.Properties?.AlarmActions).toEqual([{ Ref: logicalIdOf(stack.observability.alarmTopic) }]);
      expect(alarm.Properties?.OKActions).toEqual([{ Ref: logicalIdOf(stack.observability.alarmTopic) }]);
      const anchor = /docs\/operations\.md#([a-z0-9-]+)/.exec(String(alarm.Properties?.AlarmDescription))?.[1];
      expect({ alarm: alarm.Properties?.AlarmDescription, anchor }).toEqual({
        alarm: alarm.Properties?.AlarmDescription,
        anchor: expect.any(String),
      });
      expect({ anchor, inRunbook: anchors.has(String(anchor)) }).toEqual({ anchor, inRunbook: true });
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

  test('no metric, metric filter or alarm has a dimension whose values grow with tenants or endpoints', () => {
    template.resourceCountIs('AWS::Logs::MetricFilter', 0);
    const json = JSON.stringify(template.toJSON());
    expect(json).not.toContain('endpointId"');
    for (const alarm of Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm'))) {
      const dimensions = JSON.stringify([alarm.Properties?.Dimensions, alarm.Properties?.Metrics]);
      expect(dimensions).not.toMatch(/endpointId|tenantId/);
    }
  });

  test('top failing endpoints and dead deliveries by tenant come from Contributor Insights rules on the delivery log', () => {
    const deliveryLogGroups = ['deliver', 'deliver-retries'].map((name) => stack.deliveryPipeline.consumerFor(name).logGroup);
    for (const [rule, key, filter] of [
      [stack.observability.failingEndpointsRule, '$.endpointId', { Match: '$.outcome', NotIn: ['succeeded'] }],
      [stack.observability.deadDeliveriesByTenantRule, '$.tenantId', { Match: '$.status', In: ['dead'] }],
    ] as const) {
      const properties = resource(template, logicalIdOf(rule)).Properties;
      expect(properties?.RuleState).toBe('ENABLED');
      const body = JSON.stringify(properties?.RuleBody);
      for (const logGroup of deliveryLogGroups) expect(body).toContain(logicalIdOf(logGroup));
      expect(body).toContain(`\\"Keys\\":[\\"${key}\\"]`);
      expect(body).toContain(JSON.stringify(JSON.stringify(filter)).slice(1, -1));
    }
  });

  test('saved Logs Insights queries over the delivery log', () => {
    const definitions = Object.values(resourcesOfType(template, 'AWS::Logs::QueryDefinition'));
    expect(definitions.map((d) => d.Properties?.Name).sort()).toEqual(
      Object.keys(savedQueries)
        .map((name) => `sluice-dev/${name}`)
        .sort(),
    );
    const failing = definitions.find((d) => d.Properties?.Name === 'sluice-dev/failing-endpoints');
    expect(failing?.Properties?.QueryString).toContain('outcome != "succeeded"');
    expect(failing?.Properties?.LogGroupNames).toHaveLength(2);
  });

  test('one dashboard, named after the stage and region, with the delivery, queue, endpoint, worker and API widgets', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const dashboard = resource(template, logicalIdOf(stack.observability.dashboard));
    expect(dashboard.Properties?.DashboardName).toEqual({ 'Fn::Join': ['', ['sluice-dev-', { Ref: 'AWS::Region' }]] });
    const body = JSON.stringify(dashboard.Properties?.DashboardBody);
    for (const title of [
      'Delivery attempts',
      'First-attempt failure rate (5 min)',
      'Delivery latency (ms)',
      'Dead-letter and failure queues',
      'Endpoints with the most failed attempts',
      'Attempts by endpoint (delivery log)',
      'Workers: errors and throttles',
      'API requests and errors',
    ]) {
      expect(body).toContain(title);
    }
    // Every alarm is on the status widget; the failure queues are graphed with the dead-letter queues.
    for (const alarm of stack.observability.alarms) {
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
    'endpointMetrics opts into per-endpoint metric filters on the delivery log (their cost is documented beside the flag)',
    () => {
      const { stack } = createSluiceStack({ endpointMetrics: 'true' });
      const template = Template.fromStack(stack);
      const deliveryLogGroups = ['deliver', 'deliver-retries'].map((name) =>
        logicalIdOf(stack.deliveryPipeline.consumerFor(name).logGroup),
      );
      const filters = Object.values(resourcesOfType(template, 'AWS::Logs::MetricFilter'));
      expect(filters).toHaveLength(2 * endpointMetricFilters.length);
      for (const filter of filters) {
        expect(deliveryLogGroups).toContain(refOf(filter.Properties?.LogGroupName));
        const [transformation] = (filter.Properties?.MetricTransformations ?? []) as Array<Record<string, unknown>>;
        expect(transformation).toMatchObject({
          MetricNamespace: endpointNamespace,
          Dimensions: [{ Key: 'endpointId', Value: '$.endpointId' }],
        });
        // CloudWatch refuses a default value on a filter with dimensions.
        expect(transformation).not.toHaveProperty('DefaultValue');
      }
      template.hasResourceProperties('AWS::Logs::MetricFilter', {
        FilterPattern: '{ ($.message = "delivery attempt") && ($.outcome != "succeeded") }',
        MetricTransformations: [Match.objectLike({ MetricName: 'DeliveryFailed', MetricValue: '1' })],
      });
    },
    synthTimeoutMs,
  );

  test(
    'deadDeliveriesPerTenantAlarm opts into an alarm on the worst tenant of the dead-deliveries Contributor Insights rule',
    () => {
      const { stack } = createSluiceStack({ deadDeliveriesPerTenantAlarm: '25' });
      const template = Template.fromStack(stack);
      const alarm = stack.observability.deadDeliveriesPerTenantAlarm;
      if (!alarm) throw new Error('no per-tenant alarm');
      const properties = resource(template, logicalIdOf(alarm)).Properties;
      expect(properties?.Threshold).toBe(25);
      expect(JSON.stringify(properties?.Metrics)).toContain(
        'INSIGHT_RULE_METRIC(\\"sluice-dev-dead-deliveries-by-tenant\\", \\"MaxContributorValue\\")',
      );
      expect(properties?.OKActions).toHaveLength(1);
      expect(createSluiceStack().stack.observability.deadDeliveriesPerTenantAlarm).toBeUndefined();
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
