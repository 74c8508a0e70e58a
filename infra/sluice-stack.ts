import { CfnOutput, Duration, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { routeSpecs } from '../functions/lib/api/routes.ts';
import { type DeployedResources, environmentFor } from '../functions/lib/env.ts';
import { functionAccess } from './access.ts';
import { concurrencyOf, type SluiceConfig } from './config.ts';
import { DeliveryPipeline } from './constructs/delivery-pipeline.ts';
import { hookRouteNames, InboundHooks } from './constructs/inbound-hooks.ts';
import { IngestApi } from './constructs/ingest-api.ts';
import { KeyRotation } from './constructs/key-rotation.ts';
import { Observability } from './constructs/observability.ts';
import type { SluiceFunction } from './constructs/sluice-function.ts';
import { Storage } from './constructs/storage.ts';
import { TracingSampling, tracingEnvironment } from './constructs/tracing.ts';
import {
  apiFunctions,
  consumers,
  keyRotationFunction,
  ledgerTable,
  noRouteEnvironment,
  noRouteFunction,
  scheduledFunctions,
  streamConsumers,
} from './description.ts';

export interface SluiceStackProps extends StackProps {
  readonly config: SluiceConfig;
}

/**
 * Sluice on AWS, composed from one construct per concern: `Storage` (ledger and its stream,
 * queues, keys), `IngestApi` (the HTTP API and its route functions), `InboundHooks` (the hook
 * routes), `DeliveryPipeline` (the stream consumer, the queue consumers and the sweeper) and
 * `KeyRotation` (Secrets Manager rotation of both keys) and `Observability` (alarms, metrics,
 * dashboard). Grants come from the table in infra/access.ts.
 */
export class SluiceStack extends Stack {
  readonly config: SluiceConfig;
  readonly storage: Storage;
  readonly api: IngestApi;
  readonly hooks: InboundHooks;
  readonly deliveryPipeline: DeliveryPipeline;
  readonly keyRotation: KeyRotation;
  readonly observability: Observability;
  /** The X-Ray sampling rule, with the `tracing` context key on. */
  readonly tracing?: TracingSampling;

  constructor(scope: Construct, id: string, props: SluiceStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.config = config;
    // Cost allocation: every resource names its stage and, below, its component; activate these
    // tags in the Billing console to see Sluice's bill by stage and part (docs/operations.md).
    Tags.of(this).add('sluice:stage', config.stage);
    for (const [key, value] of Object.entries(config.tags)) Tags.of(this).add(key, value);

    this.storage = new Storage(this, 'Storage', {
      stage: config.stage,
      ledger: ledgerTable,
      tableDeletionProtection: config.tableDeletionProtection,
      streamConsumers,
    });
    const { queues } = this.storage;

    const resources: DeployedResources = {
      profile: 'aws',
      tableName: this.storage.table.tableName,
      queues: {
        delivery: queues.delivery.queue.queueUrl,
        deliveryDeadLetter: queues.delivery.deadLetterQueue.queueUrl,
        retry: queues.retry.queue.queueUrl,
      },
      rootKeyVerifier: { secretArn: this.storage.rootKeyVerifier.secretArn },
      encryptionKey: { secretArn: this.storage.encryptionKey.secretArn },
    };
    const environment: Record<string, string> = {
      POWERTOOLS_SERVICE_NAME: 'sluice',
      POWERTOOLS_METRICS_NAMESPACE: 'Sluice',
      ...(config.tracing && tracingEnvironment),
      ...environmentFor(resources, {
        sweepGraceSeconds: config.sweepGraceSeconds,
        endpointFailureWindowSeconds: config.endpointFailureWindowSeconds,
        retentionDays: config.historyRetentionDays,
        tenantIngestPerSecond: config.tenantIngestPerSecond,
        cacheSeconds: config.cacheSeconds,
      }),
    };
    const logRetention = config.logRetentionDays;
    if (config.tracing) this.tracing = new TracingSampling(this, 'Tracing', { stage: config.stage, sampleRate: config.tracingSampleRate });

    this.api = new IngestApi(this, 'Api', {
      stage: config.stage,
      routes: apiFunctions.filter((route) => !hookRouteNames.includes(route.name)),
      defaultRoute: noRouteFunction,
      defaultRouteEnvironment: { ...environment, ...noRouteEnvironment },
      environment,
      logRetention,
      corsOrigins: config.corsOrigins,
      throttles: {
        ingest: { rateLimit: config.ingestRateLimit, burstLimit: config.ingestBurstLimit },
        hooks: { rateLimit: config.hooksRateLimit, burstLimit: 2 * config.hooksRateLimit },
        read: { rateLimit: config.readRateLimit, burstLimit: 2 * config.readRateLimit },
        manage: { rateLimit: config.manageRateLimit, burstLimit: 2 * config.manageRateLimit },
        // Requests no route takes (scanners, typos): enough for a confused client, not for a flood.
        unrouted: { rateLimit: 10, burstLimit: 20 },
      },
      ...(config.domainName &&
        config.certificateArn && { customDomain: { domainName: config.domainName, certificateArn: config.certificateArn } }),
    });
    this.hooks = new InboundHooks(this, 'InboundHooks', {
      api: this.api,
      routes: apiFunctions.filter((route) => hookRouteNames.includes(route.name)),
      environment,
      logRetention,
      rateLimitPerSecond: config.hookRateLimitPerSecond,
    });
    this.deliveryPipeline = new DeliveryPipeline(this, 'DeliveryPipeline', {
      consumers,
      streamConsumers,
      scheduledFunctions,
      queues,
      table: this.storage.table,
      failureQueues: this.storage.failureQueues,
      environment,
      logRetention,
      concurrency: (consumer) => concurrencyOf(config, consumer),
    });
    this.keyRotation = new KeyRotation(this, 'KeyRotation', {
      description: keyRotationFunction,
      secrets: {
        rootKey: { secret: this.storage.rootKey, every: Duration.days(config.rootKeyRotationDays) },
        encryptionKey: { secret: this.storage.encryptionKey, every: Duration.days(config.dataKeyRotationDays) },
      },
      rootKeyVerifier: this.storage.rootKeyVerifier,
      // The root key and its hand-over are the rotation function's alone.
      environment: {
        ...environment,
        ...environmentFor(
          { ...resources, rootKeySecretArn: this.storage.rootKey.secretArn },
          { rootKeyHandOverSeconds: config.rootKeyHandOverHours * 3600 },
        ),
      },
      logRetention,
    });

    this.grantFunctionAccess();
    for (const [component, construct] of [
      ['storage', this.storage],
      ['api', this.api],
      ['hooks', this.hooks],
      ['delivery', this.deliveryPipeline],
      ['key-rotation', this.keyRotation],
    ] as const) {
      Tags.of(construct).add('sluice:component', component);
    }

    this.observability = new Observability(this, 'Observability', {
      stage: config.stage,
      ...(config.alarmEmail && { alarmEmail: config.alarmEmail }),
      ...(config.alarmTopicArn && { alarmTopicArn: config.alarmTopicArn }),
      queues,
      failureQueues: [...this.storage.failureQueues.values()],
      deliveryFunctions: [this.deliveryPipeline.consumerFor('deliver'), this.deliveryPipeline.consumerFor('deliver-retries')],
      workerFunctions: [...this.deliveryPipeline.functions.values()],
      sweeperFunction: this.deliveryPipeline.scheduledFunction('sweeper'),
      httpApi: this.api.httpApi,
      table: this.storage.table,
      indexNames: ledgerTable.indexes.map((index) => index.name),
      keyRotationFunction: this.keyRotation.rotationFunction,
      failureRateThreshold: config.failureRateThreshold,
      failureRateMinAttempts: config.failureRateMinAttempts,
      endpointMetrics: config.endpointMetrics,
      deadDeliveriesPerTenantThreshold: config.deadDeliveriesPerTenantAlarm,
      ...(config.monthlyBudgetUsd !== undefined && { monthlyBudgetUsd: config.monthlyBudgetUsd }),
    });
    Tags.of(this.observability).add('sluice:component', 'observability');

    new CfnOutput(this, 'ApiUrl', { description: 'Base URL of the Sluice API', value: this.api.defaultStage.url });
    new CfnOutput(this, 'PortalUrl', {
      description: 'The portal: open it with the url of POST /v1/portal-sessions (or: sluice portal)',
      value: `${this.api.defaultStage.url}portal`,
    });
    new CfnOutput(this, 'RootKeySecretName', {
      description: 'Secrets Manager secret holding the root key (creates tenants)',
      value: this.storage.rootKey.secretName,
    });
    new CfnOutput(this, 'DashboardUrl', {
      description: 'CloudWatch dashboard',
      value: `https://console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${this.observability.dashboard.dashboardName}`,
    });
    new CfnOutput(this, 'AlarmTopicArn', { description: 'SNS topic every alarm notifies', value: this.observability.alarmTopic.topicArn });
    new CfnOutput(this, 'TableName', { description: 'The ledger (DynamoDB)', value: this.storage.table.tableName });
    if (this.api.customDomain) {
      new CfnOutput(this, 'CustomDomainUrl', { value: `https://${this.api.customDomain.name}/` });
      new CfnOutput(this, 'CustomDomainTarget', {
        description: 'Point a CNAME (or Route 53 alias) for the custom domain here',
        value: this.api.customDomain.regionalDomainName,
      });
    }
  }

  /** Every Sluice function (API routes, hooks, stream and queue consumers, scheduled), keyed by name (`functions/<name>.ts`). */
  get functions(): ReadonlyMap<string, SluiceFunction> {
    const all = new Map<string, SluiceFunction>();
    for (const group of [this.api.functions, this.hooks.functions, this.deliveryPipeline.functions, this.keyRotation.functions]) {
      for (const [name, sluiceFunction] of group) {
        if (all.has(name)) throw new Error(`Two Sluice functions are named ${name}`);
        all.set(name, sluiceFunction);
      }
    }
    return all;
  }

  /** Grants each function exactly what infra/access.ts derives for it; grants without a function, or the reverse, are an error. */
  private grantFunctionAccess(): void {
    const { functions, storage } = this;
    for (const name of Object.keys(functionAccess)) {
      if (!functions.has(name)) throw new Error(`infra/access.ts has grants for ${name}, which is no function`);
    }
    const idempotentRoutes = new Set<string>(routeSpecs.filter((spec) => spec.idempotent).map((spec) => spec.name));
    for (const [name, sluiceFunction] of functions) {
      const access = functionAccess[name];
      if (!access) throw new Error(`Function ${name} has no grants in infra/access.ts`);
      if (access.authenticates && access.table === 'none') {
        throw new Error(`Function ${name} authenticates, which reads (and may touch) the key grant: it needs table access`);
      }
      // Authenticating reads the API-key store, whose keys are sealed with the data key.
      if (access.authenticates && !access.readsDataKey) {
        throw new Error(`Function ${name} authenticates through the API-key store, which opens the data key`);
      }
      const principal = sluiceFunction.lambdaFunction;
      storage.grantTableAccess(principal, access.table, access.query);
      if (idempotentRoutes.has(name)) storage.grantIdempotencyRecords(principal);
      for (const { queue, deadLetter } of access.sends) {
        storage.grantSend(principal, deadLetter ? storage.queues[queue].deadLetterQueue : storage.queues[queue].queue);
      }
      for (const name of access.rotates) storage.grantRotateSecret(principal, storage[name]);
      // The root key's verifier follows the key: whoever rotates it writes the verifier.
      if (access.rotates.includes('rootKey')) storage.grantWriteVerifier(principal);
      // Rotating a secret includes reading it.
      if (access.readsDataKey && !access.rotates.includes('encryptionKey')) storage.grantReadSecret(principal, storage.encryptionKey);
      if (access.authenticates) {
        storage.grantReadVerifier(principal);
        // Created or updated only once the verifier is written, so no deploy serves requests without one.
        sluiceFunction.lambdaFunction.node.addDependency(this.keyRotation.verifierSync);
      }
    }
  }
}
