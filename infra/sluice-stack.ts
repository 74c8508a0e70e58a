import { CfnOutput, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { SluiceConfig } from './config.ts';
import { DeliveryPipeline } from './constructs/delivery-pipeline.ts';
import { SluiceHttpApi } from './constructs/http-api.ts';
import { KeySecrets } from './constructs/key-secrets.ts';
import { Ledger } from './constructs/ledger.ts';
import { QueueWithDeadLetter } from './constructs/queue-with-dead-letter.ts';
import { ScheduledFunctions } from './constructs/scheduled-functions.ts';
import type { SluiceFunction } from './constructs/sluice-function.ts';
import { apiFunctions, consumers, envNames, ledgerTable, type QueueName, queues, scheduledFunctions } from './description.ts';

export interface SluiceStackProps extends StackProps {
  readonly config: SluiceConfig;
}

/** A queue a function sends to: the work queue itself or its dead-letter queue. */
interface QueueTarget {
  readonly queue: QueueName;
  readonly deadLetter?: boolean;
}

/** Both delivery lanes: first attempts go to `delivery`, retries and failing endpoints to `retry`. */
const deliveryLanes: readonly QueueTarget[] = [{ queue: 'delivery' }, { queue: 'retry' }];

/**
 * What running a delivery attempt (`DeliveryService`) may send: the job again on either lane
 * (deferred, throttled, retried), the delivery dead-letter queue once retries are exhausted, and
 * the fan-out queue, because disabling an endpoint publishes an `endpoint.disabled` event.
 */
const deliveryAttempts: readonly QueueTarget[] = [...deliveryLanes, { queue: 'delivery', deadLetter: true }, { queue: 'fanOut' }];

/**
 * Sends beyond the event sources (which CDK grants on their own; they never include
 * `sqs:SendMessage`). Keys are function names; the stack throws if one names no function, so a
 * rename cannot silently drop a grant. A function not listed may send to no queue at all.
 */
const queueSendsByFunction: Readonly<Record<string, readonly QueueTarget[]>> = {
  'create-message': [{ queue: 'fanOut' }],
  'fan-out': [...deliveryLanes, { queue: 'fanOut', deadLetter: true }],
  deliver: deliveryAttempts,
  'deliver-retries': deliveryAttempts,
  // Re-enabling an endpoint re-enqueues its paused deliveries.
  'update-endpoint': deliveryLanes,
  // Operator actions enqueue manual attempts on the retry lane.
  'retry-delivery': [{ queue: 'retry' }],
  'recover-endpoint': [{ queue: 'retry' }],
  'redrive-dead-letters': [{ queue: 'retry' }],
  // The ping is a real attempt (`DeliveryService.run`): a failure schedules retries, and a 410 (or
  // a failure window that runs out) disables the endpoint, which publishes `endpoint.disabled`.
  // Its delivery is new and every retry policy has a first retry, so it never dead-letters.
  'test-endpoint': [...deliveryLanes, { queue: 'fanOut' }],
  // Re-enqueues overdue deliveries (either lane) and overdue fan-out jobs.
  sweeper: [...deliveryLanes, { queue: 'fanOut' }],
};

/** Sluice on AWS: the ledger table, the work queues, the HTTP API, the queue consumers and the sweeper. */
export class SluiceStack extends Stack {
  readonly ledger: Ledger;
  readonly queues: Readonly<Record<QueueName, QueueWithDeadLetter>>;
  readonly keySecrets: KeySecrets;
  readonly api: SluiceHttpApi;
  readonly deliveryPipeline: DeliveryPipeline;
  readonly scheduled: ScheduledFunctions;

  constructor(scope: Construct, id: string, props: SluiceStackProps) {
    super(scope, id, props);
    const { config } = props;
    Tags.of(this).add('sluice:stage', config.stage);

    this.ledger = new Ledger(this, ledgerTable.id, {
      description: ledgerTable,
      deletionProtection: config.tableDeletionProtection,
    });
    this.queues = createQueues(this);
    this.keySecrets = new KeySecrets(this, 'Keys');

    const environment: Record<string, string> = {
      POWERTOOLS_SERVICE_NAME: 'sluice',
      POWERTOOLS_METRICS_NAMESPACE: 'Sluice',
      [envNames.profile]: 'aws',
      [envNames.tableName]: this.ledger.table.tableName,
      [envNames.fanOutQueueUrl]: this.queues.fanOut.queue.queueUrl,
      [envNames.fanOutDeadLetterQueueUrl]: this.queues.fanOut.deadLetterQueue.queueUrl,
      [envNames.deliveryQueueUrl]: this.queues.delivery.queue.queueUrl,
      [envNames.deliveryDeadLetterQueueUrl]: this.queues.delivery.deadLetterQueue.queueUrl,
      [envNames.retryQueueUrl]: this.queues.retry.queue.queueUrl,
      [envNames.sweepGraceSeconds]: String(config.sweepGraceSeconds),
      [envNames.endpointFailureWindowSeconds]: String(config.endpointFailureWindowSeconds),
      [envNames.rootKeySecretArn]: this.keySecrets.rootKey.secretArn,
      [envNames.encryptionKeySecretArn]: this.keySecrets.encryptionKey.secretArn,
      [envNames.retentionDays]: String(config.historyRetentionDays),
    };

    this.api = new SluiceHttpApi(this, 'Api', {
      stage: config.stage,
      routes: apiFunctions,
      environment,
      logRetention: config.logRetentionDays,
    });
    this.deliveryPipeline = new DeliveryPipeline(this, 'DeliveryPipeline', {
      consumers,
      queues: this.queues,
      environment,
      logRetention: config.logRetentionDays,
    });
    this.scheduled = new ScheduledFunctions(this, 'Scheduled', {
      scheduledFunctions,
      environment,
      logRetention: config.logRetentionDays,
    });

    this.grantFunctionAccess();

    new CfnOutput(this, 'ApiUrl', { value: this.api.defaultStage.url });
    new CfnOutput(this, 'RootKeySecretName', { value: this.keySecrets.rootKey.secretName });
    new CfnOutput(this, 'TableName', { value: this.ledger.table.tableName });
  }

  /** Every Sluice function (API routes, queue consumers, scheduled), keyed by name (`functions/<name>.ts`). */
  get functions(): ReadonlyMap<string, SluiceFunction> {
    const all = new Map<string, SluiceFunction>();
    for (const group of [this.api.functions, this.deliveryPipeline.functions, this.scheduled.functions]) {
      for (const [name, sluiceFunction] of group) {
        if (all.has(name)) throw new Error(`Two Sluice functions are named ${name}`);
        all.set(name, sluiceFunction);
      }
    }
    return all;
  }

  private grantFunctionAccess(): void {
    const { functions } = this;
    for (const name of Object.keys(queueSendsByFunction)) {
      if (!functions.has(name)) throw new Error(`queueSendsByFunction names ${name}, which is no function`);
    }
    for (const [name, sluiceFunction] of functions) {
      // Skeleton default: ledger read/write and both keys for every handler, still scoped to those
      // ARNs. Narrow per function (e.g. `mode: 'read'`) once the handlers' needs are settled.
      sluiceFunction.grantAccess({
        ledger: { ledger: this.ledger, mode: 'readWrite' },
        sendTo: (queueSendsByFunction[name] ?? []).map(({ queue, deadLetter }) =>
          deadLetter ? this.queues[queue].deadLetterQueue : this.queues[queue].queue,
        ),
        readSecrets: [this.keySecrets.rootKey, this.keySecrets.encryptionKey],
      });
    }
  }
}

function createQueues(scope: Construct): Record<QueueName, QueueWithDeadLetter> {
  const entries = (Object.keys(queues) as QueueName[]).map(
    (name) => [name, new QueueWithDeadLetter(scope, queues[name].id, { description: queues[name] })] as const,
  );
  return Object.fromEntries(entries) as Record<QueueName, QueueWithDeadLetter>;
}
