import { Duration, Stack } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
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
  /** The stream and queue consumers and the sweeper, for the errors and throttles on the dashboard. */
  readonly workerFunctions: readonly SluiceFunction[];
  readonly httpApi: apigwv2.HttpApi;
  /** Secrets Manager's rotation function: a failed step leaves the rotation pending, and later ones refused. */
  readonly keyRotationFunction: SluiceFunction;
  /** Failed / attempts over 5 minutes above which the failure-rate alarm fires (0..1). */
  readonly failureRateThreshold: number;
  /** ... only with more attempts than this in the window. */
  readonly failureRateMinAttempts: number;
}

/** The EMF metrics `functions/lib/edge/*` publish (Powertools: namespace `Sluice`, dimension `service`). */
export const emfNamespace = 'Sluice';
export const emfDimensions = { service: 'sluice' } as const;

/** Per-endpoint metrics derived from the delivery log by metric filters. */
export const endpointNamespace = 'Sluice/Endpoints';

/** The delivery log line of `functions/lib/edge/delivery-consumer.ts`: one per HTTP attempt. */
const deliveryAttemptLine = logs.FilterPattern.stringValue('$.message', '=', 'delivery attempt');

/**
 * Metric filters on the delivery log, one metric per endpoint (`endpointId` dimension). Cost and
 * cardinality: every endpoint that sees an attempt becomes five custom metrics (billed per metric
 * per month, pro rata by the hour it reports), and CloudWatch may disable a filter whose
 * dimension produces more than 1000 distinct values in a short time. That is the right trade
 * for up to a few hundred active endpoints; beyond that, drop these filters and use the Logs
 * Insights table of the dashboard (same data, paid per query) or EMF with an aggregated
 * dimension. The stack-wide metrics (and the alarms) come from EMF and do not depend on these.
 */
export const endpointMetricFilters = [
  { id: 'Attempts', metricName: 'DeliveryAttempts', pattern: deliveryAttemptLine, value: '1' },
  {
    id: 'Succeeded',
    metricName: 'DeliverySucceeded',
    pattern: logs.FilterPattern.all(deliveryAttemptLine, logs.FilterPattern.stringValue('$.outcome', '=', 'succeeded')),
    value: '1',
  },
  {
    id: 'Failed',
    metricName: 'DeliveryFailed',
    // `failed` and `gone` (410), as the EMF DeliveryFailed counts them.
    pattern: logs.FilterPattern.all(deliveryAttemptLine, logs.FilterPattern.stringValue('$.outcome', '!=', 'succeeded')),
    value: '1',
  },
  {
    id: 'DeadLetters',
    metricName: 'DeadLetters',
    pattern: logs.FilterPattern.all(deliveryAttemptLine, logs.FilterPattern.stringValue('$.status', '=', 'dead')),
    value: '1',
  },
  { id: 'Latency', metricName: 'DeliveryLatency', pattern: deliveryAttemptLine, value: '$.durationMs', unit: cloudwatch.Unit.MILLISECONDS },
] as const;

/**
 * Operations: the alarm topic, an alarm on every dead-letter queue, on every failure queue, on
 * the delivery failure rate and on failed key rotations (all notify the topic), per-endpoint metrics from the delivery log,
 * and one dashboard.
 */
export class Observability extends Construct {
  readonly alarmTopic: sns.ITopic;
  readonly deadLetterAlarms: ReadonlyMap<QueueName, cloudwatch.Alarm>;
  /** The alarm on each stream consumer's failure queue, by consumer name. */
  readonly failureQueueAlarms: ReadonlyMap<string, cloudwatch.Alarm>;
  readonly failureRateAlarm: cloudwatch.Alarm;
  readonly keyRotationAlarm: cloudwatch.Alarm;
  readonly metricFilters: readonly logs.MetricFilter[];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.alarmTopic = props.alarmTopicArn
      ? sns.Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn)
      : this.createAlarmTopic(props.stage, props.alarmEmail);
    const notify = new cwActions.SnsAction(this.alarmTopic);

    // A queue nothing should be left in: any message visible is worth a look. SQS publishes
    // nothing for an idle, empty queue, so silence is not a problem.
    const anyMessageAlarm = (id: string, queue: sqs.IQueue, alarmDescription: string) => {
      const alarm = new cloudwatch.Alarm(this, id, {
        alarmDescription,
        metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(notify);
      return alarm;
    };

    const deadLetterAlarms = new Map<QueueName, cloudwatch.Alarm>();
    for (const [name, queues] of Object.entries(props.queues) as [QueueName, QueueWithDeadLetter][]) {
      const deadLetter = queues.description.deadLetter.id;
      deadLetterAlarms.set(
        name,
        anyMessageAlarm(
          `${deadLetter}Alarm`,
          queues.deadLetterQueue,
          `Messages are waiting in ${deadLetter} (${name}): deliveries Sluice gave up on, or a bug. Inspect, then redrive.`,
        ),
      );
    }
    this.deadLetterAlarms = deadLetterAlarms;

    const failureQueueAlarms = new Map<string, cloudwatch.Alarm>();
    for (const { consumer, description, queue } of props.failureQueues) {
      failureQueueAlarms.set(
        consumer,
        anyMessageAlarm(
          `${description.id}Alarm`,
          queue,
          `Batches of the ledger stream are waiting in ${description.id}: ${consumer} gave up on them after its retries ` +
            `(a bug, or a delivery lane it could not reach). Their messages are not lost: the sweeper still re-dispatches ` +
            `every message without deliveries once its grace period has passed. Find the cause in the ${consumer} log, then purge the queue.`,
        ),
      );
    }
    this.failureQueueAlarms = failureQueueAlarms;

    const window = Duration.minutes(5);
    const failureRate = new cloudwatch.MathExpression({
      // No attempts (or too few to mean anything): 0, never a division by zero or missing data.
      expression: `IF(attempts > ${props.failureRateMinAttempts}, FILL(failed, 0) / attempts, 0)`,
      usingMetrics: { attempts: emfMetric('DeliveryAttempts', 'Sum', window), failed: emfMetric('DeliveryFailed', 'Sum', window) },
      period: window,
      label: 'Delivery failure rate',
    });
    this.failureRateAlarm = new cloudwatch.Alarm(this, 'DeliveryFailureRateAlarm', {
      alarmDescription:
        `More than ${Math.round(props.failureRateThreshold * 100)} % of delivery attempts failed over 5 minutes ` +
        `(with more than ${props.failureRateMinAttempts} attempts). See the per-endpoint widgets of the dashboard.`,
      metric: failureRate,
      threshold: props.failureRateThreshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.failureRateAlarm.addAlarmAction(notify);

    this.keyRotationAlarm = new cloudwatch.Alarm(this, 'KeyRotationFailedAlarm', {
      alarmDescription:
        'A step of a Secrets Manager rotation of the root key or the data keyring failed. The keys in use still work, but the ' +
        'secret keeps a pending version, and Secrets Manager refuses further rotations until it is resolved. See the ' +
        `${props.keyRotationFunction.description.name} log, fix the cause, then rotate again (aws secretsmanager rotate-secret).`,
      metric: props.keyRotationFunction.lambdaFunction.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // The function runs a few times a month: no data is the normal case.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.keyRotationAlarm.addAlarmAction(notify);

    const filters: logs.MetricFilter[] = [];
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
    this.metricFilters = filters;

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `sluice-${props.stage}-${stack.region}`,
      defaultInterval: Duration.hours(3),
    });
    this.addWidgets(props, failureRate);
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
        markdown: `# Sluice (${props.stage})\nDeliveries, queues, endpoints and the API. Alarms notify the alarm topic; the delivery log is in the deliver and deliver-retries log groups.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        alarms: [...this.deadLetterAlarms.values(), ...this.failureQueueAlarms.values(), this.failureRateAlarm, this.keyRotationAlarm],
        width: 24,
        height: 3,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Delivery attempts',
        left: ['DeliveryAttempts', 'DeliverySucceeded', 'DeliveryFailed', 'DeadLetters'].map((name) => emfMetric(name, 'Sum', minute)),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Failure rate (5 min)',
        left: [failureRate],
        leftAnnotations: [{ value: props.failureRateThreshold, label: 'alarm' }],
        leftYAxis: { min: 0, max: 1 },
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Delivery latency (ms)',
        left: ['p50', 'p95', 'p99'].map((statistic) => emfMetric('DeliveryLatency', statistic, minute)),
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Messages waiting',
        left: queues.map((q) =>
          q.queue.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum', label: q.description.id }),
        ),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Age of oldest message (s)',
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
        title: 'Endpoints with the most failed attempts',
        left: [
          new cloudwatch.MathExpression({
            expression: `SELECT SUM(DeliveryFailed) FROM SCHEMA("${endpointNamespace}", endpointId) GROUP BY endpointId ORDER BY SUM() DESC LIMIT 10`,
            period: Duration.minutes(5),
            label: '',
          }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Slowest endpoints (average ms)',
        left: [
          new cloudwatch.MathExpression({
            expression: `SELECT AVG(DeliveryLatency) FROM SCHEMA("${endpointNamespace}", endpointId) GROUP BY endpointId ORDER BY AVG() DESC LIMIT 10`,
            period: Duration.minutes(5),
            label: '',
          }),
        ],
        width: 8,
      }),
      new cloudwatch.LogQueryWidget({
        title: 'Attempts by endpoint (delivery log)',
        logGroupNames: deliveryLogGroups,
        queryLines: [
          'filter message = "delivery attempt"',
          'stats count(*) as attempts, sum(strcontains(outcome, "succeeded")) as succeeded, avg(durationMs) as avgMs, pct(durationMs, 95) as p95Ms by endpointId',
          'sort attempts desc',
          'limit 20',
        ],
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
        left: ['SweptDeliveries', 'SweptMessages', 'DeliveryThrottled', 'EndpointsDisabled'].map((name) => emfMetric(name, 'Sum', minute)),
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
