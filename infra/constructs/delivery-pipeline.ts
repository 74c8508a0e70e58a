import { Duration } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { ConsumerDescription, QueueName } from '../description.ts';
import type { QueueWithDeadLetter } from './queue-with-dead-letter.ts';
import { constructIdFor, SluiceFunction } from './sluice-function.ts';

export interface DeliveryPipelineProps {
  readonly consumers: readonly ConsumerDescription[];
  readonly queues: Readonly<Record<QueueName, QueueWithDeadLetter>>;
  readonly environment: Readonly<Record<string, string>>;
  readonly logRetention: logs.RetentionDays;
}

/** AWS guidance: a message must stay hidden for several tries of the function that holds it. */
const minimumVisibilityToTimeoutRatio = 6;

/**
 * The queue consumers (fan-out, deliver, deliver-retries): one function per consumer, fed by its
 * SQS queue. Every consumer's queue is checked against its timeout, so a new lane is too.
 */
export class DeliveryPipeline extends Construct {
  /** Consumer functions by name (`functions/<name>.ts`). */
  readonly functions: ReadonlyMap<string, SluiceFunction>;

  constructor(scope: Construct, id: string, props: DeliveryPipelineProps) {
    super(scope, id);

    const functions = new Map<string, SluiceFunction>();
    for (const consumer of props.consumers) {
      const { queue, visibilityTimeout } = props.queues[consumer.queue];
      const visibilitySeconds = visibilityTimeout.toSeconds();
      if (visibilitySeconds < minimumVisibilityToTimeoutRatio * consumer.timeoutSeconds) {
        throw new Error(
          `Queue ${consumer.queue}: visibility timeout ${visibilitySeconds} s is under ` +
            `${minimumVisibilityToTimeoutRatio} x the ${consumer.name} timeout (${consumer.timeoutSeconds} s)`,
        );
      }

      const consumerFunction = new SluiceFunction(this, constructIdFor(consumer.name), {
        description: consumer,
        environment: props.environment,
        logRetention: props.logRetention,
      });
      consumerFunction.lambdaFunction.addEventSource(
        new SqsEventSource(queue, {
          // The handlers report failed records; the rest of the batch is deleted.
          reportBatchItemFailures: true,
          batchSize: consumer.batchSize,
          maxBatchingWindow: consumer.maxBatchingWindowSeconds > 0 ? Duration.seconds(consumer.maxBatchingWindowSeconds) : undefined,
          maxConcurrency: consumer.maxConcurrency,
        }),
      );
      functions.set(consumer.name, consumerFunction);
    }
    this.functions = functions;
  }

  /** The consumer's function; throws when there is no such consumer (e.g. after a rename). */
  functionFor(consumerName: string): SluiceFunction {
    const consumerFunction = this.functions.get(consumerName);
    if (!consumerFunction) throw new Error(`No consumer function named ${consumerName}`);
    return consumerFunction;
  }
}
