import { CfnOutput, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { SluiceConfig } from './config.ts';
import { DeliveryPipeline } from './constructs/delivery-pipeline.ts';
import { SluiceHttpApi } from './constructs/http-api.ts';
import { KeySecrets } from './constructs/key-secrets.ts';
import { Ledger } from './constructs/ledger.ts';
import { QueueWithDeadLetter } from './constructs/queue-with-dead-letter.ts';
import type { SluiceFunction } from './constructs/sluice-function.ts';
import { apiFunctions, consumers, envNames, ledgerTable, type QueueName, queues } from './description.ts';

export interface SluiceStackProps extends StackProps {
  readonly config: SluiceConfig;
}

/** A queue a function sends to: the work queue itself or its dead-letter queue. */
interface QueueTarget {
  readonly queue: QueueName;
  readonly deadLetter?: boolean;
}

/**
 * Sends beyond the event sources (which CDK grants on their own). Keys are function names;
 * the stack throws if one names no function, so a rename cannot silently drop a grant.
 */
const queueSendsByFunction: Readonly<Record<string, readonly QueueTarget[]>> = {
  'create-message': [{ queue: 'fanOut' }],
  'fan-out': [{ queue: 'delivery' }, { queue: 'fanOut', deadLetter: true }],
  deliver: [{ queue: 'delivery' }, { queue: 'delivery', deadLetter: true }],
};

/** Sluice on AWS: the ledger table, the work queues, the HTTP API and the queue consumers. */
export class SluiceStack extends Stack {
  readonly ledger: Ledger;
  readonly queues: Readonly<Record<QueueName, QueueWithDeadLetter>>;
  readonly keySecrets: KeySecrets;
  readonly api: SluiceHttpApi;
  readonly deliveryPipeline: DeliveryPipeline;

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

    this.grantFunctionAccess();

    new CfnOutput(this, 'ApiUrl', { value: this.api.defaultStage.url });
    new CfnOutput(this, 'RootKeySecretName', { value: this.keySecrets.rootKey.secretName });
    new CfnOutput(this, 'TableName', { value: this.ledger.table.tableName });
  }

  /** Every Sluice function, API routes first, keyed by name (`functions/<name>.ts`). */
  get functions(): ReadonlyMap<string, SluiceFunction> {
    return new Map([...this.api.functions, ...this.deliveryPipeline.functions]);
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
