import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { ConsumerDescription, QueueName, ScheduledFunctionDescription, StreamConsumerDescription } from '../description.ts';
import type { QueueWithDeadLetter } from './queue-with-dead-letter.ts';
import { constructIdFor, SluiceFunction } from './sluice-function.ts';
import type { FailureQueue } from './storage.ts';

export interface ConsumerConcurrency {
  /** SQS event source `maxConcurrency` (2..1000). */
  readonly maxConcurrency: number;
  readonly reservedConcurrency?: number;
}

export interface DeliveryPipelineProps {
  readonly consumers: readonly ConsumerDescription[];
  readonly streamConsumers: readonly StreamConsumerDescription[];
  readonly scheduledFunctions: readonly ScheduledFunctionDescription[];
  readonly queues: Readonly<Record<QueueName, QueueWithDeadLetter>>;
  /** The ledger: its stream feeds the stream consumers (it must have one). */
  readonly table: dynamodb.ITable;
  /** Each stream consumer's failure queue, by consumer name. */
  readonly failureQueues: ReadonlyMap<string, FailureQueue>;
  readonly environment: Readonly<Record<string, string>>;
  readonly logRetention: logs.RetentionDays;
  /** Sizing of each consumer; the description's `maxConcurrency` when absent. */
  readonly concurrency?: (consumer: ConsumerDescription) => ConsumerConcurrency;
}

/** AWS guidance: a message must stay hidden for several tries of the function that holds it. */
export const minimumVisibilityToTimeoutRatio = 6;

/**
 * The oldest stream record a stream consumer is handed: the stream's own retention, so a record
 * about to be trimmed goes to the failure queue (and its alarm) rather than vanishing.
 */
export const maxStreamRecordAge = Duration.hours(24);

/** What EventBridge accepts as a rule schedule: `rate(...)` or `cron(...)`. */
const scheduleExpressionPattern = /^(rate|cron)\(.+\)$/;

/**
 * Everything that moves work after the API accepted it: the stream consumer (dispatch), fed by the
 * ledger's stream of new messages through an event filter, which turns them into first-attempt
 * jobs; the queue consumers (deliver, deliver-retries), each fed by its SQS queue with partial
 * batch failures; and the sweeper on its EventBridge schedule, which re-enqueues work overdue in
 * the ledger and re-dispatches messages whose dispatch was lost. Every consumer's queue is
 * checked against its timeout, so a new lane is too.
 */
export class DeliveryPipeline extends Construct {
  /** Consumer functions by name (`functions/<name>.ts`). */
  readonly consumers: ReadonlyMap<string, SluiceFunction>;
  /** Stream consumer functions by name. */
  readonly streamConsumers: ReadonlyMap<string, SluiceFunction>;
  /** Scheduled functions by name. */
  readonly scheduled: ReadonlyMap<string, SluiceFunction>;
  /** The schedule rule of each scheduled function, by function name. */
  readonly rules: ReadonlyMap<string, events.Rule>;

  constructor(scope: Construct, id: string, props: DeliveryPipelineProps) {
    super(scope, id);

    const consumerFunctions = new Map<string, SluiceFunction>();
    for (const consumer of props.consumers) {
      const { queue, visibilityTimeout } = props.queues[consumer.queue];
      const visibilitySeconds = visibilityTimeout.toSeconds();
      if (visibilitySeconds < minimumVisibilityToTimeoutRatio * consumer.timeoutSeconds) {
        throw new Error(
          `Queue ${consumer.queue}: visibility timeout ${visibilitySeconds} s is under ` +
            `${minimumVisibilityToTimeoutRatio} x the ${consumer.name} timeout (${consumer.timeoutSeconds} s)`,
        );
      }
      const { maxConcurrency, reservedConcurrency } = props.concurrency?.(consumer) ?? { maxConcurrency: consumer.maxConcurrency };

      const consumerFunction = new SluiceFunction(this, constructIdFor(consumer.name), {
        description: consumer,
        environment: props.environment,
        logRetention: props.logRetention,
        ...(reservedConcurrency !== undefined && { reservedConcurrency }),
      });
      consumerFunction.lambdaFunction.addEventSource(
        new SqsEventSource(queue, {
          // The handlers report failed records; the rest of the batch is deleted.
          reportBatchItemFailures: true,
          batchSize: consumer.batchSize,
          maxBatchingWindow: consumer.maxBatchingWindowSeconds > 0 ? Duration.seconds(consumer.maxBatchingWindowSeconds) : undefined,
          maxConcurrency,
        }),
      );
      consumerFunctions.set(consumer.name, consumerFunction);
    }
    this.consumers = consumerFunctions;

    const streamFunctions = new Map<string, SluiceFunction>();
    for (const consumer of props.streamConsumers) {
      const failureQueue = props.failureQueues.get(consumer.name);
      if (!failureQueue) throw new Error(`Stream consumer ${consumer.name} has no failure queue`);
      const streamFunction = new SluiceFunction(this, constructIdFor(consumer.name), {
        description: consumer,
        environment: props.environment,
        logRetention: props.logRetention,
      });
      // The event source grants reading the stream (DescribeStream, GetRecords, GetShardIterator
      // on the stream's ARN, and ListStreams, which IAM grants on "*" only) and its on-failure
      // destination grants sending to the failure queue; infra/access.ts grants the rest.
      streamFunction.lambdaFunction.addEventSource(
        new DynamoEventSource(props.table, {
          // From the oldest record kept: a message stored before the mapping existed is dispatched too.
          startingPosition: lambda.StartingPosition.TRIM_HORIZON,
          batchSize: consumer.batchSize,
          maxBatchingWindow: consumer.maxBatchingWindowSeconds > 0 ? Duration.seconds(consumer.maxBatchingWindowSeconds) : undefined,
          // A failing batch is retried in halves, so a poison record ends alone on the failure queue.
          retryAttempts: consumer.retryAttempts,
          bisectBatchOnError: true,
          maxRecordAge: maxStreamRecordAge,
          onFailure: new SqsDlq(failureQueue.queue),
          // Only matching records invoke the function (and are billed).
          filters: [lambda.FilterCriteria.filter(consumer.filter)],
        }),
      );
      streamFunctions.set(consumer.name, streamFunction);
    }
    this.streamConsumers = streamFunctions;

    const scheduled = new Map<string, SluiceFunction>();
    const rules = new Map<string, events.Rule>();
    for (const description of props.scheduledFunctions) {
      if (!scheduleExpressionPattern.test(description.schedule)) {
        throw new Error(`Scheduled function ${description.name}: ${description.schedule} is no rate(...) or cron(...) expression`);
      }
      const constructId = constructIdFor(description.name);
      const scheduledFunction = new SluiceFunction(this, constructId, {
        description,
        environment: props.environment,
        logRetention: props.logRetention,
      });
      const rule = new events.Rule(this, `${constructId}Schedule`, {
        description: `Runs Sluice ${description.name} on ${description.schedule}`,
        schedule: events.Schedule.expression(description.schedule),
        targets: [
          new targets.LambdaFunction(scheduledFunction.lambdaFunction, {
            // A tick EventBridge could not hand over (e.g. throttled) is retried only briefly:
            // the next tick does the same work anyway, so a backlog of old ticks is useless.
            retryAttempts: 2,
            maxEventAge: Duration.seconds(Math.max(60, description.everySeconds)),
          }),
        ],
      });
      scheduled.set(description.name, scheduledFunction);
      rules.set(description.name, rule);
    }
    this.scheduled = scheduled;
    this.rules = rules;
  }

  /** Queue consumers, stream consumers and scheduled functions together, by name. */
  get functions(): ReadonlyMap<string, SluiceFunction> {
    return new Map([...this.consumers, ...this.streamConsumers, ...this.scheduled]);
  }

  /** The consumer's function; throws when there is no such consumer (e.g. after a rename). */
  consumerFor(consumerName: string): SluiceFunction {
    const consumerFunction = this.consumers.get(consumerName);
    if (!consumerFunction) throw new Error(`No consumer function named ${consumerName}`);
    return consumerFunction;
  }

  /** A scheduled function (the sweeper); throws when there is no such function. */
  scheduledFunction(name: string): SluiceFunction {
    const scheduledFunction = this.scheduled.get(name);
    if (!scheduledFunction) throw new Error(`No scheduled function named ${name}`);
    return scheduledFunction;
  }

  /** The stream consumer's function; throws when there is no such consumer. */
  streamConsumerFor(consumerName: string): SluiceFunction {
    const streamFunction = this.streamConsumers.get(consumerName);
    if (!streamFunction) throw new Error(`No stream consumer function named ${consumerName}`);
    return streamFunction;
  }

  /** The scheduled function; throws when there is none of that name. */
  scheduledFor(name: string): SluiceFunction {
    const scheduledFunction = this.scheduled.get(name);
    if (!scheduledFunction) throw new Error(`No scheduled function named ${name}`);
    return scheduledFunction;
  }

  /** The schedule rule of the function; throws when there is none of that name. */
  ruleFor(name: string): events.Rule {
    const rule = this.rules.get(name);
    if (!rule) throw new Error(`No schedule rule for ${name}`);
    return rule;
  }
}
