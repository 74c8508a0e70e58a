import { Duration, Stack } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as budgets from 'aws-cdk-lib/aws-budgets';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { metricNames } from '../../functions/lib/edge/metric-names.ts';
import type { QueueName } from '../description.ts';
import type { QueueWithDeadLetter } from './queue-with-dead-letter.ts';
import type { SluiceFunction } from './sluice-function.ts';
import type { FailureQueue } from './storage.ts';

export interface ObservabilityProps {
  readonly stage: string;
  /** Subscribed to the topic the stack creates. */
  readonly alarmEmail?: string;
  /** Notify this existing topic instead of creating one. */
  readonly alarmTopicArn?: string;
  readonly queues: Readonly<Record<QueueName, QueueWithDeadLetter>>;
  /** The stream consumers' failure queues: alarmed like the dead-letter queues. */
  readonly failureQueues: readonly FailureQueue[];
  /** The delivery consumers (deliver, deliver-retries): their log groups carry the delivery log. */
  readonly deliveryFunctions: readonly SluiceFunction[];
  /** The stream and queue consumers and the sweeper: errors and throttles alarmed per function. */
  readonly workerFunctions: readonly SluiceFunction[];
  /** Runs every minute: alarmed when it has not. */
  readonly sweeperFunction: SluiceFunction;
  readonly httpApi: apigwv2.HttpApi;
  readonly table: dynamodb.Table;
  /** The ledger's GSI names: a throttled index write throttles the table write. */
  readonly indexNames: readonly string[];
  /** Secrets Manager's rotation function: a failed step leaves the rotation pending, and later ones refused. */
  readonly keyRotationFunction: SluiceFunction;
  /** Failed / attempts of first attempts (primary lane) over 5 minutes above which the failure-rate alarm fires (0..1). */
  readonly failureRateThreshold: number;
  /** ... only with more attempts than this in the window. */
  readonly failureRateMinAttempts: number;
  /** Opt-in per-endpoint metric filters (custom metrics billed per endpoint: see `endpointMetricFilters`). */
  readonly endpointMetrics: boolean;
  /** Opt-in: alarm when one tenant has more than this many deliveries go dead in 5 minutes (0: off). */
  readonly deadDeliveriesPerTenantThreshold: number;
  /** Opt-in: a monthly AWS Budgets budget (USD) on the stage's tagged costs, notifying the alarm topic. */
  readonly monthlyBudgetUsd?: number;
}

/** The EMF metrics `functions/lib/edge/*` publish (Powertools: namespace `Sluice`, dimension `service`). */
export const emfNamespace = 'Sluice';
export const emfDimensions = { service: 'sluice' } as const;

/** Per-endpoint metrics derived from the delivery log by the opt-in metric filters. */
export const endpointNamespace = 'Sluice/Endpoints';

/** The delivery log line of `functions/lib/edge/delivery-consumer.ts`: one per HTTP attempt. */
const deliveryAttemptLine = logs.FilterPattern.stringValue('$.message', '=', 'delivery attempt');

/**
 * Opt-in (`endpointMetrics`) metric filters on the delivery log, one metric per endpoint
 * (`endpointId` dimension). Off by default, because their cost and their limits grow with the
 * endpoints: every endpoint that sees an attempt becomes five custom metrics ($0.30 each a month
 * at list price: about $150 a month for 100 endpoints, $15 000 for 10 000), and CloudWatch may
 * disable a filter whose dimension takes more than 1 000 values in an hour, after which they stop
 * silently. Per-endpoint figures come from the ledger (`GET /v1/endpoints/{id}/stats`), the top-N
 * Contributor Insights rule and the saved Logs Insights queries instead, at a cost that does not
 * grow with endpoints.
 */
export const endpointMetricFilters = [
  { id: 'Attempts', metricName: metricNames.deliveryAttempts, pattern: deliveryAttemptLine, value: '1' },
  {
    id: 'Succeeded',
    metricName: metricNames.deliverySucceeded,
    pattern: logs.FilterPattern.all(deliveryAttemptLine, logs.FilterPattern.stringValue('$.outcome', '=', 'succeeded')),
    value: '1',
  },
  {
    id: 'Failed',
    metricName: metricNames.deliveryFailed,
    // `failed` and `gone` (410), as the EMF DeliveryFailed counts them.
    pattern: logs.FilterPattern.all(deliveryAttemptLine, logs.FilterPattern.stringValue('$.outcome', '!=', 'succeeded')),
    value: '1',
  },
  {
    id: 'DeadLetters',
    metricName: metricNames.deadLetters,
    pattern: logs.FilterPattern.all(deliveryAttemptLine, logs.FilterPattern.stringValue('$.status', '=', 'dead')),
    value: '1',
  },
  {
    id: 'Latency',
    metricName: metricNames.deliveryLatency,
    pattern: deliveryAttemptLine,
    value: '$.durationMs',
    unit: cloudwatch.Unit.MILLISECONDS,
  },
] as const;

/**
 * How long a job may wait on each lane before its queue is alarmed as stalled. The primary lane
 * carries first attempts, which run within seconds; the retry lane holds jobs on purpose, up to
 * SQS's 15-minute delay per hop, so only twice that means nothing is consuming it.
 */
export const oldestMessageAgeSeconds: Readonly<Record<QueueName, number>> = { delivery: 300, retry: 1800 };

/**
 * A fault, not a blip: above the threshold in 3 of the last 5 one-minute periods. No data (an idle
 * queue or function publishes none) is health.
 */
const aboveForThreeOfFiveMinutes = {
  comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
  evaluationPeriods: 5,
  datapointsToAlarm: 3,
  treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
} as const;

/** API 5xx answers over all answers in 5 minutes above which the API alarm fires, with at least this many requests. */
export const api5xxRateThreshold = 0.05;
export const api5xxMinRequests = 20;

/** The saved CloudWatch Logs Insights queries over the delivery log, by name (the dashboard shows two of them). */
export const savedQueries = {
  'attempts-by-endpoint': {
    filterStatements: ['message = "delivery attempt"'],
    statsStatements: [
      'count(*) as attempts, sum(outcome = "succeeded") as succeeded, avg(durationMs) as avgMs, pct(durationMs, 95) as p95Ms by endpointId',
    ],
    sort: 'attempts desc',
    limit: 50,
  },
  'failing-endpoints': {
    filterStatements: ['message = "delivery attempt"', 'outcome != "succeeded"'],
    statsStatements: ['count(*) as failures, latest(statusCode) as lastStatus, latest(error) as lastError by endpointId, tenantId'],
    sort: 'failures desc',
    limit: 50,
  },
  'slowest-endpoints': {
    filterStatements: ['message = "delivery attempt"'],
    statsStatements: ['pct(durationMs, 95) as p95Ms, max(durationMs) as maxMs, count(*) as attempts by endpointId'],
    sort: 'p95Ms desc',
    limit: 50,
  },
  'dead-deliveries-by-tenant': {
    filterStatements: ['message = "delivery attempt"', 'status = "dead"'],
    statsStatements: ['count(*) as dead by tenantId'],
    sort: 'dead desc',
    limit: 50,
  },
  // Edit the id: every line of one delivery, oldest first.
  'one-delivery': {
    fields: ['@timestamp', 'message', 'attempt', 'statusCode', 'durationMs', 'outcome', 'status', 'error', 'lane'],
    filterStatements: ['deliveryId = "dlv_REPLACE_ME"'],
    sort: '@timestamp asc',
  },
} as const satisfies Record<string, logs.QueryStringProps>;

function queryOf(name: keyof typeof savedQueries): logs.QueryString {
  const query: logs.QueryStringProps = savedQueries[name];
  return new logs.QueryString({
    ...query,
    ...(query.filterStatements && { filterStatements: [...query.filterStatements] }),
    ...(query.statsStatements && { statsStatements: [...query.statsStatements] }),
    ...(query.fields && { fields: [...query.fields] }),
  });
}

/**
 * Operations: the alarm topic and the alarms (each with an alarm and an OK action, each with its
 * runbook line in docs/operations.md), Contributor Insights rules and saved queries over the
 * delivery log, opt-in per-endpoint metric filters, and one dashboard. No metric or metric filter
 * has a dimension whose values grow with tenants or endpoints unless it is opted into.
 */
export class Observability extends Construct {
  readonly alarmTopic: sns.ITopic;
  /** Arrivals on each delivery-lane dead-letter queue (poison jobs, crashes), by lane. */
  readonly deadLetterAlarms: ReadonlyMap<QueueName, cloudwatch.Alarm>;
  /** Arrivals on each stream consumer's failure queue, by consumer name. */
  readonly failureQueueAlarms: ReadonlyMap<string, cloudwatch.Alarm>;
  /** Age of the oldest job on each delivery lane. */
  readonly queueAgeAlarms: ReadonlyMap<QueueName, cloudwatch.Alarm>;
  /** Errors, and throttles, of each worker function, by function name. */
  readonly workerErrorAlarms: ReadonlyMap<string, cloudwatch.Alarm>;
  readonly workerThrottleAlarms: ReadonlyMap<string, cloudwatch.Alarm>;
  readonly sweeperStoppedAlarm: cloudwatch.Alarm;
  readonly api5xxAlarm: cloudwatch.Alarm;
  readonly tableThrottleAlarm: cloudwatch.Alarm;
  /** First attempts (primary lane) failing. */
  readonly failureRateAlarm: cloudwatch.Alarm;
  readonly keyRotationAlarm: cloudwatch.Alarm;
  readonly deadDeliveriesPerTenantAlarm?: cloudwatch.Alarm;
  readonly failingEndpointsRule: cloudwatch.CfnInsightRule;
  readonly deadDeliveriesByTenantRule: cloudwatch.CfnInsightRule;
  readonly queryDefinitions: readonly logs.QueryDefinition[];
  readonly metricFilters: readonly logs.MetricFilter[];
  readonly dashboard: cloudwatch.Dashboard;
  readonly budget?: budgets.CfnBudget;
  private readonly notify: cwActions.SnsAction;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.alarmTopic = props.alarmTopicArn
      ? sns.Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn)
      : this.createAlarmTopic(props.stage, props.alarmEmail);
    this.notify = new cwActions.SnsAction(this.alarmTopic);
    const minute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);

    // Dead-letter and failure queues: what arrived in the period, so the alarm clears once nothing
    // new comes (an operator inspects and purges at leisure). Lambda's on-failure destination and
    // the consumers' parking send messages (NumberOfMessagesSent); SQS's own redrive after
    // maxReceiveCount does not count as sent, so a rise in visible messages counts too.
    const arrivalsAlarm = (id: string, queue: sqs.IQueue, alarmDescription: string) =>
      this.alarm(id, {
        alarmDescription,
        metric: new cloudwatch.MathExpression({
          expression: 'FILL(sent, 0) + IF(DIFF(FILL(visible, 0)) > 0, DIFF(FILL(visible, 0)), 0)',
          usingMetrics: {
            sent: queue.metricNumberOfMessagesSent({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM }),
            visible: queue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: cloudwatch.Stats.MAXIMUM }),
          },
          period: fiveMinutes,
          label: 'Arrivals',
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // SQS publishes nothing for an idle, empty queue: silence is health.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });

    const deadLetterAlarms = new Map<QueueName, cloudwatch.Alarm>();
    const queueAgeAlarms = new Map<QueueName, cloudwatch.Alarm>();
    for (const [name, queues] of Object.entries(props.queues) as [QueueName, QueueWithDeadLetter][]) {
      const { id: queueId, deadLetter } = queues.description;
      deadLetterAlarms.set(
        name,
        arrivalsAlarm(
          `${deadLetter.id}Alarm`,
          queues.deadLetterQueue,
          `Jobs arrived in ${deadLetter.id} (${name} lane): poison jobs or crashes the pipeline could not process. ` +
            `Customers' exhausted retries never land here. Runbook: docs/operations.md#dead-letter-queue-arrivals`,
        ),
      );
      queueAgeAlarms.set(
        name,
        this.alarm(`${queueId}AgeAlarm`, {
          alarmDescription:
            `The oldest job on ${queueId} (${name} lane) has waited over ${oldestMessageAgeSeconds[name]} s for 3 of 5 minutes: ` +
            `its consumer is not keeping up or not running. Runbook: docs/operations.md#queue-age`,
          metric: queues.queue.metricApproximateAgeOfOldestMessage({ period: minute, statistic: cloudwatch.Stats.MAXIMUM }),
          threshold: oldestMessageAgeSeconds[name],
          ...aboveForThreeOfFiveMinutes,
        }),
      );
    }
    this.deadLetterAlarms = deadLetterAlarms;
    this.queueAgeAlarms = queueAgeAlarms;

    const failureQueueAlarms = new Map<string, cloudwatch.Alarm>();
    for (const { consumer, description, queue } of props.failureQueues) {
      failureQueueAlarms.set(
        consumer,
        arrivalsAlarm(
          `${description.id}Alarm`,
          queue,
          `Batches of the ledger stream arrived in ${description.id}: ${consumer} gave up on them after its retries. ` +
            `Their messages are not lost: the sweeper re-dispatches every message without deliveries once its grace ` +
            `period has passed. Runbook: docs/operations.md#stream-failure-queue-arrivals`,
        ),
      );
    }
    this.failureQueueAlarms = failureQueueAlarms;

    // Every worker: errors and throttles, 3 of 5 minutes (one bad minute is a blip, three are a fault).
    const workerErrorAlarms = new Map<string, cloudwatch.Alarm>();
    const workerThrottleAlarms = new Map<string, cloudwatch.Alarm>();
    const workerAlarms = [
      { alarms: workerErrorAlarms, kind: 'Errors', what: 'failed invocations', anchor: 'worker-errors' },
      { alarms: workerThrottleAlarms, kind: 'Throttles', what: 'was throttled', anchor: 'worker-throttles' },
    ] as const;
    for (const worker of props.workerFunctions) {
      const name = worker.description.name;
      for (const { alarms, kind, what, anchor } of workerAlarms) {
        alarms.set(
          name,
          this.alarm(`${worker.node.id}${kind}Alarm`, {
            alarmDescription: `${name} ${what} in 3 of the last 5 minutes. Runbook: docs/operations.md#${anchor}`,
            metric: worker.lambdaFunction.metric(kind, { period: minute, statistic: cloudwatch.Stats.SUM }),
            threshold: 0,
            ...aboveForThreeOfFiveMinutes,
          }),
        );
      }
    }
    this.workerErrorAlarms = workerErrorAlarms;
    this.workerThrottleAlarms = workerThrottleAlarms;

    this.sweeperStoppedAlarm = this.alarm('SweeperStoppedAlarm', {
      alarmDescription:
        `${props.sweeperFunction.description.name} has not run for 10 minutes (it runs every minute). Lost queue messages ` +
        'and overdue retries wait until it does. Runbook: docs/operations.md#sweeper-stopped',
      metric: props.sweeperFunction.lambdaFunction.metricInvocations({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 2,
      // No invocations publish no data: silence is the failure this alarm exists for.
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });

    this.api5xxAlarm = this.alarm('Api5xxRateAlarm', {
      alarmDescription:
        `More than ${api5xxRateThreshold * 100} % of API answers were 5xx over 5 minutes, twice in a row (with at least ` +
        `${api5xxMinRequests} requests). Runbook: docs/operations.md#api-5xx`,
      metric: new cloudwatch.MathExpression({
        expression: `IF(requests >= ${api5xxMinRequests}, FILL(errors, 0) / requests, 0)`,
        usingMetrics: {
          requests: props.httpApi.metricCount({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM }),
          errors: props.httpApi.metricServerError({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM }),
        },
        period: fiveMinutes,
        label: 'API 5xx rate',
      }),
      threshold: api5xxRateThreshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const throttleMetric = (name: string, index?: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/DynamoDB',
        metricName: name,
        dimensionsMap: { TableName: props.table.tableName, ...(index && { GlobalSecondaryIndexName: index }) },
        period: minute,
        statistic: cloudwatch.Stats.SUM,
      });
    const throttles: Record<string, cloudwatch.IMetric> = {
      tableReads: throttleMetric('ReadThrottleEvents'),
      tableWrites: throttleMetric('WriteThrottleEvents'),
    };
    for (const [i, index] of props.indexNames.entries()) throttles[`index${i}`] = throttleMetric('WriteThrottleEvents', index);
    this.tableThrottleAlarm = this.alarm('LedgerThrottleAlarm', {
      alarmDescription:
        'DynamoDB throttled reads or writes of the ledger (or a write to one of its indexes) in 3 of the last 5 minutes. ' +
        'Runbook: docs/operations.md#ledger-throttling',
      metric: new cloudwatch.MathExpression({
        expression: Object.keys(throttles)
          .map((name) => `FILL(${name}, 0)`)
          .join(' + '),
        usingMetrics: throttles,
        period: minute,
        label: 'Throttled ledger requests',
      }),
      threshold: 0,
      ...aboveForThreeOfFiveMinutes,
    });

    const failureRate = new cloudwatch.MathExpression({
      // No attempts (or too few to mean anything): 0, never a division by zero or missing data.
      expression: `IF(attempts > ${props.failureRateMinAttempts}, FILL(failed, 0) / attempts, 0)`,
      usingMetrics: {
        attempts: emfMetric(metricNames.primaryLaneAttempts, 'Sum', fiveMinutes),
        failed: emfMetric(metricNames.primaryLaneFailed, 'Sum', fiveMinutes),
      },
      period: fiveMinutes,
      label: 'First-attempt failure rate',
    });
    this.failureRateAlarm = this.alarm('DeliveryFailureRateAlarm', {
      alarmDescription:
        `More than ${Math.round(props.failureRateThreshold * 100)} % of first attempts (primary lane) failed over 5 minutes ` +
        `(with more than ${props.failureRateMinAttempts} attempts). Retries and failing endpoints run on the retry lane and ` +
        'do not count: this is many receivers failing at once, or Sluice failing to reach them. Runbook: docs/operations.md#failure-rate',
      metric: failureRate,
      threshold: props.failureRateThreshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    this.keyRotationAlarm = this.alarm('KeyRotationFailedAlarm', {
      alarmDescription:
        'A step of a Secrets Manager rotation of the root key or the data keyring failed. The keys in use still work, but ' +
        'Secrets Manager refuses further rotations until it is resolved. Runbook: docs/operations.md#key-rotation-failed',
      metric: props.keyRotationFunction.lambdaFunction.metricErrors({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // The function runs a few times a month: no data is the normal case.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // Contributor Insights: the top contributors from the delivery log, priced per rule and per
    // matched log event, whatever the number of endpoints or tenants.
    const deliveryLogGroups = props.deliveryFunctions.map((fn) => fn.logGroup.logGroupName);
    this.failingEndpointsRule = this.insightRule('FailingEndpointsRule', `sluice-${props.stage}-failing-endpoints`, {
      logGroupNames: deliveryLogGroups,
      keys: ['$.endpointId'],
      filters: [
        { Match: '$.message', In: ['delivery attempt'] },
        { Match: '$.outcome', NotIn: ['succeeded'] },
      ],
    });
    this.deadDeliveriesByTenantRule = this.insightRule('DeadDeliveriesByTenantRule', `sluice-${props.stage}-dead-deliveries-by-tenant`, {
      logGroupNames: deliveryLogGroups,
      keys: ['$.tenantId'],
      filters: [
        { Match: '$.message', In: ['delivery attempt'] },
        { Match: '$.status', In: ['dead'] },
      ],
    });
    if (props.deadDeliveriesPerTenantThreshold > 0) {
      this.deadDeliveriesPerTenantAlarm = this.alarm('DeadDeliveriesPerTenantAlarm', {
        alarmDescription:
          `One tenant had more than ${props.deadDeliveriesPerTenantThreshold} deliveries go dead in 5 minutes (opt-in). ` +
          `See the ${this.deadDeliveriesByTenantRule.ruleName} Contributor Insights rule for which. Runbook: docs/operations.md#dead-deliveries-per-tenant`,
        metric: new cloudwatch.MathExpression({
          expression: `INSIGHT_RULE_METRIC("${this.deadDeliveriesByTenantRule.ruleName}", "MaxContributorValue")`,
          usingMetrics: {},
          period: fiveMinutes,
          label: 'Most dead deliveries of one tenant',
        }),
        threshold: props.deadDeliveriesPerTenantThreshold,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }

    this.queryDefinitions = Object.keys(savedQueries).map(
      (name) =>
        new logs.QueryDefinition(this, `Query-${name}`, {
          queryDefinitionName: `sluice-${props.stage}/${name}`,
          queryString: queryOf(name as keyof typeof savedQueries),
          logGroups: props.deliveryFunctions.map((fn) => fn.logGroup),
        }),
    );

    const filters: logs.MetricFilter[] = [];
    if (props.endpointMetrics) {
      for (const deliveryFunction of props.deliveryFunctions) {
        for (const filter of endpointMetricFilters) {
          filters.push(
            new logs.MetricFilter(this, `${deliveryFunction.node.id}Endpoint${filter.id}Filter`, {
              logGroup: deliveryFunction.logGroup,
              filterPattern: filter.pattern,
              metricNamespace: endpointNamespace,
              metricName: filter.metricName,
              metricValue: filter.value,
              dimensions: { endpointId: '$.endpointId' },
              ...('unit' in filter && { unit: filter.unit }),
            }),
          );
        }
      }
    }
    this.metricFilters = filters;

    if (props.monthlyBudgetUsd !== undefined) this.budget = this.createBudget(props.stage, props.monthlyBudgetUsd);

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `sluice-${props.stage}-${stack.region}`,
      defaultInterval: Duration.hours(3),
    });
    this.addWidgets(props, failureRate);
  }

  /** Every alarm of the stack: the topic hears both when it fires and when it clears. */
  get alarms(): readonly cloudwatch.Alarm[] {
    return [
      ...this.deadLetterAlarms.values(),
      ...this.failureQueueAlarms.values(),
      ...this.queueAgeAlarms.values(),
      ...this.workerErrorAlarms.values(),
      ...this.workerThrottleAlarms.values(),
      this.sweeperStoppedAlarm,
      this.api5xxAlarm,
      this.tableThrottleAlarm,
      this.failureRateAlarm,
      this.keyRotationAlarm,
      ...(this.deadDeliveriesPerTenantAlarm ? [this.deadDeliveriesPerTenantAlarm] : []),
    ];
  }

  private alarm(id: string, props: cloudwatch.AlarmProps): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, props);
    alarm.addAlarmAction(this.notify);
    alarm.addOkAction(this.notify);
    return alarm;
  }

  private insightRule(
    id: string,
    ruleName: string,
    rule: { logGroupNames: readonly string[]; keys: readonly string[]; filters: readonly Record<string, unknown>[] },
  ): cloudwatch.CfnInsightRule {
    return new cloudwatch.CfnInsightRule(this, id, {
      ruleName,
      ruleState: 'ENABLED',
      ruleBody: Stack.of(this).toJsonString({
        Schema: { Name: 'CloudWatchLogRule', Version: 1 },
        LogGroupNames: rule.logGroupNames,
        LogFormat: 'JSON',
        Contribution: { Keys: rule.keys, Filters: rule.filters },
        AggregateOn: 'Count',
      }),
    });
  }

  /**
   * The stage's monthly spend, by its `sluice:stage` cost-allocation tag: the alarm topic hears at
   * 80 % of the budget spent and at 100 % forecast. (An existing topic must let budgets.amazonaws.com publish.)
   */
  private createBudget(stage: string, amountUsd: number): budgets.CfnBudget {
    const subscribers = [{ subscriptionType: 'SNS', address: this.alarmTopic.topicArn }];
    const notification = (notificationType: 'ACTUAL' | 'FORECASTED', threshold: number) => ({
      notification: { notificationType, comparisonOperator: 'GREATER_THAN', threshold, thresholdType: 'PERCENTAGE' },
      subscribers,
    });
    if (this.alarmTopic instanceof sns.Topic) {
      this.alarmTopic.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'BudgetsPublish',
          principals: [new iam.ServicePrincipal('budgets.amazonaws.com')],
          actions: ['sns:Publish'],
          resources: [this.alarmTopic.topicArn],
          conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
        }),
      );
    }
    return new budgets.CfnBudget(this, 'MonthlyBudget', {
      budget: {
        budgetName: `sluice-${stage}-monthly`,
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: amountUsd, unit: 'USD' },
        costFilters: { TagKeyValue: [`user:sluice:stage$${stage}`] },
      },
      notificationsWithSubscribers: [notification('ACTUAL', 80), notification('FORECASTED', 100)],
    });
  }

  private createAlarmTopic(stage: string, email: string | undefined): sns.Topic {
    const topic = new sns.Topic(this, 'AlarmTopic', { displayName: `Sluice alarms (${stage})`, enforceSSL: true });
    // The topic has a policy (TLS only), so CloudWatch must be let in explicitly, from this account only.
    const stack = Stack.of(this);
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*` },
        },
      }),
    );
    if (email) topic.addSubscription(new subscriptions.EmailSubscription(email));
    return topic;
  }

  private addWidgets(props: ObservabilityProps, failureRate: cloudwatch.MathExpression): void {
    const minute = Duration.minutes(1);
    const queues = Object.values(props.queues);
    const deliveryLogGroups = props.deliveryFunctions.map((fn) => fn.logGroup.logGroupName);
    const workers = props.workerFunctions;

    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          `# Sluice (${props.stage})\nDeliveries, queues, endpoints and the API. Alarms notify the alarm topic (docs/operations.md has a ` +
          'runbook line for each); the delivery log is in the deliver and deliver-retries log groups, with saved Logs Insights queries.',
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...this.alarms], width: 24, height: 4 }));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Delivery attempts',
        left: [metricNames.deliveryAttempts, metricNames.deliverySucceeded, metricNames.deliveryFailed, metricNames.deadLetters].map(
          (name) => emfMetric(name, 'Sum', minute),
        ),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'First-attempt failure rate (5 min)',
        left: [failureRate],
        leftAnnotations: [{ value: props.failureRateThreshold, label: 'alarm' }],
        leftYAxis: { min: 0, max: 1 },
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Delivery latency (ms)',
        left: ['p50', 'p95', 'p99'].map((statistic) => emfMetric(metricNames.deliveryLatency, statistic, minute)),
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Jobs waiting',
        left: queues.map((q) =>
          q.queue.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum', label: q.description.id }),
        ),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Age of oldest job (s)',
        left: queues.map((q) =>
          q.queue.metricApproximateAgeOfOldestMessage({ period: minute, statistic: 'Maximum', label: q.description.id }),
        ),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Dead-letter and failure queues',
        left: [
          ...queues.map((q) =>
            q.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
              period: minute,
              statistic: 'Maximum',
              label: q.description.deadLetter.id,
            }),
          ),
          ...props.failureQueues.map((f) =>
            f.queue.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum', label: f.description.id }),
          ),
        ],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Endpoints with the most failed attempts (Contributor Insights)',
        left: [
          new cloudwatch.MathExpression({
            expression: `INSIGHT_RULE_METRIC("${this.failingEndpointsRule.ruleName}", "MaxContributorValue")`,
            usingMetrics: {},
            period: Duration.minutes(5),
            label: 'Failed attempts of the worst endpoint',
          }),
        ],
        width: 8,
      }),
      new cloudwatch.LogQueryWidget({
        title: 'Failing endpoints (delivery log)',
        logGroupNames: deliveryLogGroups,
        queryString: queryOf('failing-endpoints').toString(),
        view: cloudwatch.LogQueryVisualizationType.TABLE,
        width: 8,
      }),
      new cloudwatch.LogQueryWidget({
        title: 'Attempts by endpoint (delivery log)',
        logGroupNames: deliveryLogGroups,
        queryString: queryOf('attempts-by-endpoint').toString(),
        view: cloudwatch.LogQueryVisualizationType.TABLE,
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Workers: errors and throttles',
        left: workers.map((fn) => fn.lambdaFunction.metricErrors({ period: minute, label: `${fn.description.name} errors` })),
        right: workers.map((fn) => fn.lambdaFunction.metricThrottles({ period: minute, label: `${fn.description.name} throttles` })),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Sweeper, throttling, disabled endpoints',
        left: [metricNames.sweptDeliveries, metricNames.sweptMessages, metricNames.deliveryThrottled, metricNames.endpointsDisabled].map(
          (name) => emfMetric(name, 'Sum', minute),
        ),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'API requests and errors',
        left: [
          props.httpApi.metricCount({ period: minute, statistic: 'Sum' }),
          props.httpApi.metricClientError({ period: minute, statistic: 'Sum' }),
          props.httpApi.metricServerError({ period: minute, statistic: 'Sum' }),
        ],
        right: [props.httpApi.metricLatency({ period: minute, statistic: 'p95' })],
        width: 8,
      }),
    );
  }
}

function emfMetric(metricName: string, statistic: string, period: Duration): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: emfNamespace, metricName, dimensionsMap: { ...emfDimensions }, statistic, period });
}
