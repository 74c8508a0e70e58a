import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { generateApiKey } from '../../functions/lib/core/access.ts';
import { SecretBox } from '../../functions/lib/crypto/secret-box.ts';
import { consumers, envNames, ledgerTable, type QueueName } from '../description.ts';
import type { GuardedChild } from './child-process.ts';
import { startDynamoDbLocal } from './dynamodb-local.ts';
import { SqsEventSource } from './event-source.ts';
import { freePort, portInUse } from './free-port.ts';
import { type LocalHttpApi, startHttpApi } from './http-api.ts';
import { loadHandler } from './lambda-runtime.ts';
import { type ProvisionedQueue, provisionQueues, provisionTable } from './provision.ts';
import { type SqsServer, startSqsServer } from './sqs-server.ts';

export const IN_MEMORY = ':memory:';

export interface LocalStackOptions {
  /** Directory for persisted state, or `:memory:`. */
  readonly dataDir: string;
  /** API port; 0 picks a free one. */
  readonly port: number;
  readonly host: string;
  readonly rootKey?: string;
  /** Concurrent invocations per consumer (Lambda would scale these out). */
  readonly concurrency: Readonly<Record<string, number>>;
  readonly progress: (line: string) => void;
  readonly onRequest?: (line: { method: string; path: string; status: number; ms: number }) => void;
  /** Extra environment for the handlers (e.g. SLUICE_ALLOW_PRIVATE). */
  readonly env?: Readonly<Record<string, string>>;
}

interface LocalKeys {
  rootKey: string;
  encryptionKey: string;
}

/** Keys persist with the data: sealed secrets must open after a restart, and the root key stays put. */
function localKeys(dataDir: string | undefined, rootKeyOverride: string | undefined): LocalKeys {
  const file = dataDir && path.join(dataDir, 'local-keys.json');
  const stored: Partial<LocalKeys> = file && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalKeys>) : {};
  const keys: LocalKeys = {
    rootKey: rootKeyOverride ?? stored.rootKey ?? generateApiKey().replace(/^sk_/, 'root_'),
    encryptionKey: stored.encryptionKey ?? SecretBox.generateKey(),
  };
  if (file && (stored.rootKey !== keys.rootKey || stored.encryptionKey !== keys.encryptionKey)) {
    writeFileSync(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return keys;
}

async function timed<T>(progress: (line: string) => void, label: string, work: () => Promise<T>, detail: (value: T) => string): Promise<T> {
  const started = performance.now();
  progress(`  … ${label}`);
  const value = await work();
  progress(`  ✓ ${label} ${detail(value)} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  return value;
}

/**
 * The whole platform on one machine: DynamoDB Local and fauxqs as child processes, the table and
 * queues of the CDK description, the Lambda handlers behind a local HTTP API, and SQS pollers.
 */
export class LocalStack {
  private ready = false;

  private constructor(
    readonly options: LocalStackOptions,
    readonly rootKey: string,
    readonly dynamodb: { endpoint: string; child: GuardedChild },
    private sqsServer: SqsServer,
    readonly queues: Record<QueueName, ProvisionedQueue>,
    readonly api: LocalHttpApi,
    private readonly sources: SqsEventSource[],
    private readonly sqs: SQSClient,
    private readonly sqsPort: number,
    private readonly sqsDataDir: string | undefined,
  ) {}

  get apiUrl(): string {
    return this.api.url;
  }

  get sqsEndpoint(): string {
    return this.sqsServer.endpoint;
  }

  get isReady(): boolean {
    return this.ready;
  }

  static async start(options: LocalStackOptions): Promise<LocalStack> {
    const started = performance.now();
    const { progress } = options;
    const persistent = options.dataDir !== IN_MEMORY;
    const dataDir = persistent ? path.resolve(options.dataDir) : undefined;
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    if (options.port !== 0 && (await portInUse(options.port, options.host))) {
      throw new Error(
        `port ${options.port} on ${options.host} is in use: stop what holds it, or start with PORT=<another port> (PORT=0 picks a free one)`,
      );
    }
    progress(`Starting Sluice locally (data: ${dataDir ?? 'in memory'})`);

    const dynamoPort = await freePort();
    const dynamodb = await timed(
      progress,
      'DynamoDB Local',
      () => startDynamoDbLocal({ port: dynamoPort, ...(dataDir && { dataDir: path.join(dataDir, 'dynamodb') }) }),
      (d) => `on ${d.endpoint}`,
    );
    const sqsPort = await freePort();
    const sqsDataDir = dataDir && path.join(dataDir, 'sqs');
    let sqsServer: SqsServer;
    try {
      sqsServer = await timed(
        progress,
        'SQS server (fauxqs)',
        () => startSqsServer({ port: sqsPort, ...(sqsDataDir && { dataDir: sqsDataDir }) }),
        (s) => `on ${s.endpoint}`,
      );
    } catch (error) {
      await dynamodb.child.stop();
      throw error;
    }

    try {
      const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
      const dynamoClient = new DynamoDBClient({ endpoint: dynamodb.endpoint, region: 'us-east-1', credentials });
      const sqs = new SQSClient({ endpoint: sqsServer.endpoint, region: 'us-east-1', credentials, useQueueUrlAsEndpoint: false });
      const queues = await timed(
        progress,
        'table and queues from infra/description.ts',
        async () => {
          await provisionTable(dynamoClient);
          return provisionQueues(sqs);
        },
        (q) => `${ledgerTable.localName}; ${Object.values(q).length * 2} queues`,
      );
      dynamoClient.destroy();

      const keys = localKeys(dataDir, options.rootKey);
      // The handlers read their configuration from the environment, exactly as in Lambda.
      Object.assign(process.env, {
        [envNames.profile]: 'local',
        [envNames.tableName]: ledgerTable.localName,
        [envNames.fanOutQueueUrl]: queues.fanOut.url,
        [envNames.fanOutDeadLetterQueueUrl]: queues.fanOut.deadLetterUrl,
        [envNames.deliveryQueueUrl]: queues.delivery.url,
        [envNames.deliveryDeadLetterQueueUrl]: queues.delivery.deadLetterUrl,
        [envNames.rootKey]: keys.rootKey,
        [envNames.encryptionKey]: keys.encryptionKey,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
        AWS_ENDPOINT_URL_SQS: sqsServer.endpoint,
        POWERTOOLS_SERVICE_NAME: 'sluice',
        POWERTOOLS_METRICS_NAMESPACE: 'Sluice',
        ...options.env,
      });
      delete process.env.AWS_SESSION_TOKEN;
      delete process.env.AWS_PROFILE;

      let stack: LocalStack | undefined;
      const api = await timed(
        progress,
        'HTTP API',
        () =>
          startHttpApi({
            port: options.port,
            host: options.host,
            local: {
              'GET /health': () =>
                stack?.isReady
                  ? {
                      status: 200,
                      body: { status: 'ok', dynamodb: dynamodb.endpoint, sqs: sqsServer.endpoint, pollers: stack.pollerStats() },
                    }
                  : { status: 503, body: { status: 'starting' } },
            },
            ...(options.onRequest && { onRequest: options.onRequest }),
          }),
        (a) => `on ${a.url} (${a.routes} routes)`,
      );

      const sources = await Promise.all(
        consumers.map(async (consumer) => {
          const queue = queues[consumer.queue];
          return new SqsEventSource({
            sqs,
            queueUrl: queue.url,
            queueArn: queue.arn,
            consumer,
            handler: await loadHandler<SQSEvent, SQSBatchResponse | undefined>(consumer.name),
            concurrency: options.concurrency[consumer.name] ?? 2,
            onError: (message) => progress(`  ! ${message}`),
          });
        }),
      );
      for (const source of sources) source.start();
      progress(`  ✓ pollers: ${consumers.map((c) => `${c.name} ×${options.concurrency[c.name] ?? 2}`).join(', ')}`);

      stack = new LocalStack(options, keys.rootKey, dynamodb, sqsServer, queues, api, sources, sqs, sqsPort, sqsDataDir);
      stack.ready = true;
      progress(`Ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      return stack;
    } catch (error) {
      await sqsServer.stop();
      await dynamodb.child.stop();
      throw error;
    }
  }

  pollerStats(): Record<string, unknown> {
    return Object.fromEntries(consumers.map((consumer, i) => [consumer.name, this.sources[i]?.stats]));
  }

  /** Kills the SQS server (SIGKILL) and starts it again on the same port and data: a fault test's outage. */
  async restartSqsServer(downtimeMs = 0): Promise<void> {
    this.sqsServer.kill();
    await this.sqsServer.exited;
    if (downtimeMs > 0) await new Promise((resolve) => setTimeout(resolve, downtimeMs));
    this.sqsServer = await startSqsServer({ port: this.sqsPort, ...(this.sqsDataDir && { dataDir: this.sqsDataDir }) });
  }

  /** Stops polling (in-flight invocations finish), then the API, then the servers. */
  async stop(): Promise<void> {
    this.ready = false;
    await Promise.all(this.sources.map((source) => source.stop()));
    await this.api.close();
    this.sqs.destroy();
    await this.sqsServer.stop();
    await this.dynamodb.child.stop();
  }
}
