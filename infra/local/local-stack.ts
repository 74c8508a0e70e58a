import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent, ScheduledEvent, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { meterClient } from '../../functions/lib/aws/usage-meter.ts';
import { PORTAL_PAGE_FILE } from '../../functions/lib/edge/portal-page.ts';
import { environmentFor, envNames } from '../../functions/lib/env.ts';
import { buildPortalHtml, sharedPortalFile, writePortalHtml } from '../../portal/build.ts';
import { consumers, ledgerTable, noRouteEnvironment, type QueueName, scheduledFunctions, streamConsumers } from '../description.ts';
import { type DynamoDbLocal, startDynamoDbLocal } from './dynamodb-local.ts';
import { SqsEventSource } from './event-source.ts';
import { freePort, portInUse } from './free-port.ts';
import { type LocalHttpApi, startHttpApi } from './http-api.ts';
import { invoke, loadHandler } from './lambda-runtime.ts';
import { LoadGovernor } from './load-governor.ts';
import { clearRunningStack, keysEnvironment, startupKeys, writeRunningStack } from './local-keys.ts';
import { type ProvisionedQueue, provisionFailureQueues, provisionQueues, provisionTable } from './provision.ts';
import { type SqsServer, startSqsServer } from './sqs-server.ts';
import { DynamoStreamSource } from './stream-source.ts';

export const IN_MEMORY = ':memory:';

export interface LocalStackOptions {
  /** Directory for persisted state, or `:memory:`. */
  readonly dataDir: string;
  /** API port; 0 picks a free one. */
  readonly port: number;
  readonly host: string;
  readonly rootKey?: string;
  /** Most concurrent invocations per consumer, where not the description's `maxConcurrency`. */
  readonly maxConcurrency?: Readonly<Record<string, number>>;
  /** Seconds between sweeper runs (EventBridge runs it every minute in AWS). */
  readonly sweepIntervalSeconds?: number;
  readonly progress: (line: string) => void;
  readonly onRequest?: (line: { method: string; path: string; status: number; ms: number }) => void;
  /** Browser origins allowed by CORS (none by default). */
  readonly corsOrigins?: readonly string[];
  /** Extra environment for the handlers (e.g. SLUICE_ALLOW_PRIVATE). */
  readonly env?: Readonly<Record<string, string>>;
}

async function timed<T>(progress: (line: string) => void, label: string, work: () => Promise<T>, detail: (value: T) => string): Promise<T> {
  const started = performance.now();
  progress(`  … ${label}`);
  const value = await work();
  progress(`  ✓ ${label} ${detail(value)} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  return value;
}

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

interface Servers {
  readonly dynamoPort: number;
  readonly sqsPort: number;
  readonly dynamoDataDir: string | undefined;
  readonly sqsDataDir: string | undefined;
}

/**
 * The whole platform on one machine: DynamoDB Local and fauxqs as child processes, the table and
 * queues of the CDK description, the Lambda handlers behind a local HTTP API, SQS pollers and the
 * sweeper on a timer. A server that dies is started again on the same port and data, as a
 * managed service would be: the pipeline rides out the outage.
 */
export class LocalStack {
  private ready = false;
  private stopping = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly options: LocalStackOptions,
    readonly rootKey: string,
    private dynamodbServer: DynamoDbLocal,
    private sqsServer: SqsServer,
    readonly queues: Record<QueueName, ProvisionedQueue>,
    readonly api: LocalHttpApi,
    private readonly sources: SqsEventSource[],
    private readonly streamSources: DynamoStreamSource[],
    private readonly sqs: SQSClient,
    private readonly streamClients: { readonly dynamodb: DynamoDBClient; readonly streams: DynamoDBStreamsClient },
    private readonly servers: Servers,
    private readonly governor: LoadGovernor,
  ) {}

  private get dataDir(): string | undefined {
    return this.options.dataDir !== IN_MEMORY ? path.resolve(this.options.dataDir) : undefined;
  }

  get apiUrl(): string {
    return this.api.url;
  }

  get dynamodb(): { endpoint: string } {
    return { endpoint: this.dynamodbServer.endpoint };
  }

  get sqsEndpoint(): string {
    return this.sqsServer.endpoint;
  }

  get pids(): { sqs: number | undefined; dynamodb: number | undefined } {
    return { sqs: this.sqsServer.process.pid, dynamodb: this.dynamodbServer.child.process.pid };
  }

  get isReady(): boolean {
    return this.ready;
  }

  static async start(options: LocalStackOptions): Promise<LocalStack> {
    const started = performance.now();
    const { progress } = options;
    const dataDir = options.dataDir !== IN_MEMORY ? path.resolve(options.dataDir) : undefined;
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    if (options.port !== 0 && (await portInUse(options.port, options.host))) {
      throw new Error(
        `port ${options.port} on ${options.host} is in use: stop what holds it, or start with PORT=<another port> (PORT=0 picks a free one)`,
      );
    }
    progress(`Starting Sluice locally (data: ${dataDir ?? 'in memory'})`);
    const servers: Servers = {
      dynamoPort: await freePort(),
      sqsPort: await freePort(),
      dynamoDataDir: dataDir && path.join(dataDir, 'dynamodb'),
      sqsDataDir: dataDir && path.join(dataDir, 'sqs'),
    };

    const dynamodb = await timed(
      progress,
      'DynamoDB Local',
      () => LocalStack.startDynamo(servers),
      (d) => `on ${d.endpoint}`,
    );
    let sqsServer: SqsServer;
    try {
      sqsServer = await timed(
        progress,
        'SQS server (fauxqs)',
        () => LocalStack.startSqs(servers),
        (s) => `on ${s.endpoint}`,
      );
    } catch (error) {
      await dynamodb.child.stop();
      throw error;
    }

    try {
      // The pollers' receives and deletes are what Lambda's event source mapping would bill: metered too.
      const sqs = meterClient(
        new SQSClient({ endpoint: sqsServer.endpoint, region: 'us-east-1', credentials, useQueueUrlAsEndpoint: false }),
        'sqs',
      );
      const queues = await timed(
        progress,
        'table and queues from infra/description.ts',
        async () => {
          await LocalStack.provisionTable(dynamodb.endpoint);
          return { ...(await provisionQueues(sqs)), failures: await provisionFailureQueues(sqs) };
        },
        (q) => `${ledgerTable.localName}; ${(Object.keys(q).length - 1) * 2 + Object.keys(q.failures).length} queues`,
      );

      // Kept in the data dir (local-keys.json): sealed secrets must open after a restart. Read once:
      // after `npm run keys` rotates them, the stack uses the new ones from its next start.
      // The portal's page, built from portal/ as the CDK's bundling builds it, served by the same get-portal handler.
      const portalFile = await timed(
        progress,
        'portal',
        async () => {
          const html = await buildPortalHtml();
          const file = dataDir ? path.join(dataDir, PORTAL_PAGE_FILE) : sharedPortalFile(html, tmpdir());
          writePortalHtml(file, html);
          return file;
        },
        (file) => `built (${file})`,
      );
      const keys = startupKeys(dataDir, options.rootKey);
      const keyEnv = keysEnvironment(keys);
      // The handlers read their configuration from the environment, exactly as in Lambda.
      Object.assign(process.env, {
        ...environmentFor({
          profile: 'local',
          tableName: ledgerTable.localName,
          queues: { delivery: queues.delivery.url, deliveryDeadLetter: queues.delivery.deadLetterUrl, retry: queues.retry.url },
          rootKeyVerifier: { value: keyEnv.rootKeyVerifier },
          encryptionKey: { value: keyEnv.encryptionKey },
        }),
        // One process runs every function, so the catch-all's route list sits beside the rest.
        ...noRouteEnvironment,
        [envNames.portalFile]: portalFile,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
        AWS_ENDPOINT_URL_SQS: sqsServer.endpoint,
        POWERTOOLS_SERVICE_NAME: 'sluice',
        POWERTOOLS_METRICS_NAMESPACE: 'Sluice',
        // No X-Ray daemon here: the tracer stays unloaded whatever the shell sets (functions/lib/edge/observability.ts).
        POWERTOOLS_TRACE_ENABLED: 'false',
        ...options.env,
      });
      delete process.env.AWS_SESSION_TOKEN;
      delete process.env.AWS_PROFILE;
      // `npm start`'s own setting, read already: the handlers get the root key's verifier only, as in AWS.
      delete process.env.SLUICE_ROOT_KEY;

      let stack: LocalStack | undefined;
      const api = await timed(
        progress,
        'HTTP API',
        () =>
          startHttpApi({
            port: options.port,
            host: options.host,
            ...(options.corsOrigins && { corsOrigins: options.corsOrigins }),
            local: {
              'GET /health': () =>
                stack?.isReady
                  ? {
                      status: 200,
                      body: { status: 'ok', dynamodb: stack.dynamodb.endpoint, sqs: stack.sqsEndpoint, pollers: stack.pollerStats() },
                    }
                  : { status: 503, body: { status: 'starting' } },
            },
            ...(options.onRequest && { onRequest: options.onRequest }),
          }),
        (a) => `on ${a.url} (${a.routes} routes)`,
      );

      const governor = new LoadGovernor();
      const sources = await Promise.all(
        consumers.map(async (consumer) => {
          const queue = queues[consumer.queue];
          return new SqsEventSource({
            sqs,
            queueUrl: queue.url,
            queueArn: queue.arn,
            consumer,
            handler: await loadHandler<SQSEvent, SQSBatchResponse | undefined>(consumer.name),
            ...(options.maxConcurrency?.[consumer.name] !== undefined && { maxConcurrency: options.maxConcurrency[consumer.name] }),
            onError: (message) => progress(`  ! ${message}`),
            governor,
          });
        }),
      );
      for (const source of sources) source.start();

      // The ledger's stream, polled as Lambda polls it, with the position kept beside the data.
      const streamClients = {
        dynamodb: new DynamoDBClient({ endpoint: dynamodb.endpoint, region: 'us-east-1', credentials }),
        streams: new DynamoDBStreamsClient({ endpoint: dynamodb.endpoint, region: 'us-east-1', credentials }),
      };
      const streamSources = await Promise.all(
        streamConsumers.map(
          async (consumer) =>
            new DynamoStreamSource({
              ...streamClients,
              tableName: ledgerTable.localName,
              consumer,
              handler: await loadHandler<DynamoDBStreamEvent, DynamoDBBatchResponse | undefined>(consumer.name),
              ...(dataDir && { checkpointFile: path.join(dataDir, `stream-${consumer.name}.json`) }),
              pollIntervalMs: 250,
              onFailure: async (batch) => {
                await sqs.send(
                  new SendMessageCommand({ QueueUrl: queues.failures[consumer.name]?.url, MessageBody: JSON.stringify(batch) }),
                );
              },
              onError: (message) => progress(`  ! ${message}`),
            }),
        ),
      );
      for (const source of streamSources) source.start();
      progress(
        `  ✓ pollers: ${consumers.map((c) => `${c.name} (up to ${options.maxConcurrency?.[c.name] ?? c.maxConcurrency} at once)`).join(', ')}`,
      );

      stack = new LocalStack(
        options,
        keys.rootKeys.current,
        dynamodb,
        sqsServer,
        queues,
        api,
        sources,
        streamSources,
        sqs,
        streamClients,
        servers,
        governor,
      );
      await stack.startSchedules();
      stack.supervise();
      stack.ready = true;
      if (dataDir) writeRunningStack(dataDir, { pid: process.pid, dynamodbEndpoint: dynamodb.endpoint, dataKeyId: keys.keyring.current });
      progress(`Ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      return stack;
    } catch (error) {
      await sqsServer.stop();
      await dynamodb.child.stop();
      throw error;
    }
  }

  private static startDynamo(servers: Servers): Promise<DynamoDbLocal> {
    return startDynamoDbLocal({ port: servers.dynamoPort, ...(servers.dynamoDataDir && { dataDir: servers.dynamoDataDir }) });
  }

  private static startSqs(servers: Servers): Promise<SqsServer> {
    return startSqsServer({ port: servers.sqsPort, ...(servers.sqsDataDir && { dataDir: servers.sqsDataDir }) });
  }

  private static async provisionTable(endpoint: string): Promise<void> {
    const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials });
    try {
      await provisionTable(client);
    } finally {
      client.destroy();
    }
  }

  /** The scheduled functions of the description (the sweeper), on timers instead of EventBridge. */
  private async startSchedules(): Promise<void> {
    for (const fn of scheduledFunctions) {
      const handler = await loadHandler<ScheduledEvent, unknown>(fn.name);
      const everySeconds = this.options.sweepIntervalSeconds ?? fn.everySeconds;
      const tick = () => {
        if (this.stopping) return;
        const event: ScheduledEvent = {
          version: '0',
          id: `local-${Date.now()}`,
          'detail-type': 'Scheduled Event',
          source: 'aws.events',
          account: '000000000000',
          time: new Date().toISOString(),
          region: 'us-east-1',
          resources: [`arn:aws:events:us-east-1:000000000000:rule/${fn.name}`],
          detail: {},
        };
        this.sweeping = invoke(fn, handler, event)
          .catch((error: unknown) => this.options.progress(`  ! ${fn.name} failed: ${String(error)}`))
          .finally(() => {
            if (!this.stopping) this.sweepTimer = setTimeout(tick, everySeconds * 1000);
          });
      };
      this.sweepTimer = setTimeout(tick, everySeconds * 1000);
    }
  }

  /** Restarts a server that exits while the stack is running, on the same port and data. */
  private supervise(): void {
    const watchSqs = (server: SqsServer) => {
      void server.exited.then(async (code) => {
        if (this.stopping) return;
        this.options.progress(`  ! SQS server exited (code ${code}); starting it again`);
        this.sqsServer = await LocalStack.startSqs(this.servers);
        await provisionQueues(this.sqs);
        await provisionFailureQueues(this.sqs);
        this.options.progress('  ✓ SQS server is back');
        watchSqs(this.sqsServer);
      });
    };
    const watchDynamo = (server: DynamoDbLocal) => {
      void server.child.exited.then(async (code) => {
        if (this.stopping) return;
        this.options.progress(`  ! DynamoDB Local exited (code ${code}); starting it again`);
        this.dynamodbServer = await LocalStack.startDynamo(this.servers);
        await LocalStack.provisionTable(this.dynamodbServer.endpoint);
        this.options.progress('  ✓ DynamoDB Local is back');
        watchDynamo(this.dynamodbServer);
      });
    };
    watchSqs(this.sqsServer);
    watchDynamo(this.dynamodbServer);
  }

  pollerStats(): Record<string, unknown> {
    return Object.fromEntries([
      ...consumers.map((consumer, i) => [consumer.name, this.sources[i]?.stats]),
      ...streamConsumers.map((consumer, i) => [consumer.name, this.streamSources[i]?.stats]),
    ]);
  }

  /** Stops polling (in-flight invocations finish), the sweeper, then the API, then the servers. */
  async stop(): Promise<void> {
    this.ready = false;
    this.stopping = true;
    if (this.dataDir) clearRunningStack(this.dataDir, process.pid);
    clearTimeout(this.sweepTimer);
    await Promise.all(this.streamSources.map((source) => source.stop()));
    await Promise.all(this.sources.map((source) => source.stop()));
    this.governor.stop();
    await this.sweeping;
    await this.api.close();
    this.sqs.destroy();
    this.streamClients.dynamodb.destroy();
    this.streamClients.streams.destroy();
    await this.sqsServer.stop();
    await this.dynamodbServer.child.stop();
  }
}
