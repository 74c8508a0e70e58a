/**
 * The composition root: builds the core services over their AWS adapters from the environment.
 * Lambda entries call `sluice()`; the local stack runs the same entries, so it wires the same way.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DynamoDBRecord } from 'aws-lambda';
import { BatchWriter } from './aws/batch-writer.ts';
import { documentClient, dynamoClient, secretsClient, sqsClient } from './aws/clients.ts';
import { DynamoApiKeyStore, DynamoTenantStore } from './aws/dynamo-access-stores.ts';
import { DynamoActionStore } from './aws/dynamo-action-store.ts';
import { DynamoDeliveryStore } from './aws/dynamo-delivery-store.ts';
import { DynamoEndpointStore, DynamoEventTypeStore } from './aws/dynamo-endpoint-stores.ts';
import { DynamoMessageStore, newMessagesOf } from './aws/dynamo-message-store.ts';
import { DynamoDispatchedMessages, DynamoDueWorkIndex, DynamoRateLimiter } from './aws/dynamo-scheduling.ts';
import { ApiIdempotency } from './aws/idempotency.ts';
import { ttlAttribute } from './aws/ledger-keys.ts';
import type { LedgerTable } from './aws/ledger-table.ts';
import { secretsManagerRootKeyVerifier, staticRootKeyVerifier } from './aws/root-key.ts';
import { type KeyRefresher, secretsManagerSecretBox } from './aws/secrets.ts';
import { SqsDeadLetterSink, SqsDeliveryQueue } from './aws/sqs-queues.ts';
import { lazyHttpSender, lazySchemaValidator } from './capabilities.ts';
import { AccessService } from './core/access.ts';
import { ActionService, HookService } from './core/actions.ts';
import { ApiKeyService } from './core/api-keys.ts';
import { type Clock, systemClock } from './core/clock.ts';
import { DeliveryService } from './core/delivery.ts';
import { DispatchService } from './core/dispatch.ts';
import { EndpointDirectory } from './core/endpoint-directory.ts';
import { EndpointStatsService } from './core/endpoint-stats.ts';
import { EndpointTester } from './core/endpoint-test.ts';
import { EndpointService } from './core/endpoints.ts';
import { EventTypeCatalog, EventTypeService } from './core/event-types.ts';
import { HistoryService } from './core/history.ts';
import { type IdGenerator, ulidIdGenerator } from './core/ids.ts';
import { InboxService } from './core/inbox.ts';
import { TenantIngestBudgets, TokenBucketBudget } from './core/ingest-budget.ts';
import { MessageService } from './core/messages.ts';
import type { Message } from './core/model.ts';
import type { DeadLetterSink } from './core/ports.ts';
import { RecoveryService } from './core/recovery.ts';
import { SweeperService } from './core/sweeper.ts';
import { TenantDirectory, TenantService } from './core/tenants.ts';
import { SecretBox } from './crypto/secret-box.ts';
import { loadTracer } from './edge/observability.ts';
import { loadConfig, type SluiceConfig } from './env.ts';
import { AddressPolicy, DnsDestinationGuard } from './http/address-policy.ts';

export interface Sluice {
  readonly config: SluiceConfig;
  readonly clock: Clock;
  readonly access: AccessService;
  readonly tenants: TenantService;
  readonly apiKeys: ApiKeyService;
  readonly eventTypes: EventTypeService;
  readonly endpoints: EndpointService;
  readonly messages: MessageService;
  readonly dispatch: DispatchService;
  /** Reads the ledger's stream: the message items a batch of its records created. */
  readonly ledgerStream: { newMessages(records: readonly DynamoDBRecord[]): Message[] };
  readonly delivery: DeliveryService;
  readonly history: HistoryService;
  readonly endpointStats: EndpointStatsService;
  readonly recovery: RecoveryService;
  readonly tester: EndpointTester;
  readonly sweeper: SweeperService;
  readonly inbox: InboxService;
  readonly actions: ActionService;
  readonly hooks: HookService;
  /** Parking for queue messages the pipeline can never process (unparseable jobs): an operator's problem, alarmed. */
  readonly deadLetters: { readonly delivery: DeadLetterSink };
  /** Idempotency-Key on the API's creating POSTs (`POST /v1/messages` keeps its own, in the message's slot). */
  readonly idempotency: ApiIdempotency;
  /** Re-reads the data keyring when it is due (a rotation reaches warm containers this way); `sluice()` calls it. */
  readonly keys: KeyRefresher;
}

export interface Overrides {
  readonly clock?: Clock;
  readonly ids?: IdGenerator;
  readonly random?: () => number;
}

export async function buildSluice(config: SluiceConfig, overrides: Overrides = {}): Promise<Sluice> {
  const clock = overrides.clock ?? systemClock;
  const ids = overrides.ids ?? ulidIdGenerator(() => clock.now().getTime());
  // Undefined unless tracing is on; awaited here so the clients are traced whichever edge built the container.
  const tracer = await loadTracer();
  const secrets =
    'secretArn' in config.rootKeyVerifier || 'secretArn' in config.encryptionKey
      ? secretsClient({ region: config.region, ...(tracer && { tracer }) })
      : undefined;
  // Locally the keys come from the environment, read once: the local stack restarts to change them.
  const { box, refresher } =
    'value' in config.encryptionKey
      ? { box: new SecretBox(config.encryptionKey.value), refresher: { refresh: async () => undefined } }
      : await secretsManagerSecretBox(config.encryptionKey.secretArn, secrets as SecretsManagerClient);
  // Only the root key's hashes: the key itself is the rotation function's alone.
  const rootKey =
    'value' in config.rootKeyVerifier
      ? staticRootKeyVerifier(config.rootKeyVerifier.value)
      : secretsManagerRootKeyVerifier(config.rootKeyVerifier.secretArn, secrets as SecretsManagerClient);

  // One DynamoDB client (one keep-alive pool) for the stores and the idempotency records.
  const dynamoOptions = {
    region: config.region,
    ...(config.endpoints.dynamodb && { endpoint: config.endpoints.dynamodb }),
    ...(tracer && { tracer }),
  };
  const dynamo = dynamoClient(dynamoOptions);
  const table: LedgerTable = {
    client: documentClient(dynamoOptions, dynamo),
    name: config.tableName,
    retentionDays: config.retentionDays,
  };
  const sqs = sqsClient({
    region: config.region,
    ...(config.endpoints.sqs && { endpoint: config.endpoints.sqs }),
    ...(tracer && { tracer }),
  });
  const policy = new AddressPolicy(config.destinations);

  const tenantStore = new DynamoTenantStore(table);
  const apiKeyStore = new DynamoApiKeyStore(table, box);
  const eventTypeStore = new DynamoEventTypeStore(table);
  const endpointStore = new DynamoEndpointStore(table, box);
  const messageStore = new DynamoMessageStore(table);
  const deliveryStore = new DynamoDeliveryStore(
    table,
    new BatchWriter(table),
    (item) => endpointStore.fromItem(item),
    (item) => messageStore.fromItem(item),
  );
  const deliveryQueue = new SqsDeliveryQueue(sqs, { primary: config.queues.delivery, retry: config.queues.retry });
  const validator = lazySchemaValidator(config);
  const deadLetters = { delivery: new SqsDeadLetterSink(sqs, config.queues.deliveryDeadLetter) };

  // What the hot path would otherwise read on every message, kept for `cacheSeconds`.
  const directory = new EndpointDirectory(endpointStore, clock, config.cacheSeconds);
  const tenantDirectory = new TenantDirectory(tenantStore, clock, config.cacheSeconds);
  const catalog = new EventTypeCatalog(eventTypeStore, clock, config.cacheSeconds);
  const access = new AccessService({ apiKeys: apiKeyStore, rootKey, clock, ids, keyCacheSeconds: config.cacheSeconds });
  const apiKeys = new ApiKeyService(access, apiKeyStore);
  const actionStore = new DynamoActionStore(table);
  const rateLimiter = new DynamoRateLimiter(table);
  const messages = new MessageService({
    messages: messageStore,
    eventTypes: catalog,
    validator,
    endpoints: directory,
    clock,
    ids,
    budget: new TenantIngestBudgets(tenantDirectory, new TokenBucketBudget(clock), config.tenantIngestPerSecond),
  });
  const delivery = new DeliveryService({
    deliveries: deliveryStore,
    endpointStore,
    endpoints: directory,
    loader: deliveryStore,
    queue: deliveryQueue,
    sender: lazyHttpSender(config),
    rateLimiter,
    systemEvents: { publish: (tenantId, type, payload) => messages.publishSystemEvent(tenantId, type, payload) },
    clock,
    random: overrides.random ?? Math.random,
    failureWindowSeconds: config.endpointFailureWindowSeconds,
  });
  return {
    config,
    clock,
    access,
    tenants: new TenantService({ tenants: tenantStore, access, clock, ids, directory: tenantDirectory }),
    apiKeys,
    eventTypes: new EventTypeService(eventTypeStore, validator, clock, catalog),
    endpoints: new EndpointService({
      endpoints: endpointStore,
      eventTypes: eventTypeStore,
      deliveries: deliveryStore,
      queue: deliveryQueue,
      guard: new DnsDestinationGuard(policy),
      clock,
      ids,
      directory,
    }),
    messages,
    dispatch: new DispatchService({ endpoints: directory, queue: deliveryQueue }),
    ledgerStream: { newMessages: newMessagesOf },
    delivery,
    history: new HistoryService(deliveryStore, messageStore, endpointStore),
    endpointStats: new EndpointStatsService({ deliveries: deliveryStore, endpoints: endpointStore, clock }),
    recovery: new RecoveryService({ deliveries: deliveryStore, endpoints: endpointStore, queue: deliveryQueue, clock }),
    tester: new EndpointTester({ endpoints: endpointStore, messages, delivery, clock }),
    sweeper: new SweeperService({
      due: new DynamoDueWorkIndex(table),
      deliveries: deliveryStore,
      messages: messageStore,
      dispatched: new DynamoDispatchedMessages(table),
      endpoints: directory,
      deliveryQueue,
      clock,
      graceSeconds: config.sweepGraceSeconds,
    }),
    actions: new ActionService({ actions: actionStore, apiKeys, clock, ids }),
    hooks: new HookService({
      access,
      actions: actionStore,
      endpoints: directory,
      messages,
      rateLimiter,
      clock,
      ids,
      rateLimitPerSecond: config.hookRateLimitPerSecond,
    }),
    inbox: new InboxService({ deliveries: deliveryStore, messages: messageStore, endpoints: endpointStore, clock, ids }),
    deadLetters,
    idempotency: new ApiIdempotency(dynamo, config.tableName, ttlAttribute),
    keys: refresher,
  };
}

let instance: Promise<Sluice> | undefined;

/**
 * The process-wide instance, built on first use (a Lambda cold start, or the local stack's first
 * request). Each call also gives the data keyring its chance to refresh (a timestamp check unless
 * a refresh is due).
 */
export async function sluice(): Promise<Sluice> {
  instance ??= buildSluice(loadConfig()).catch((error: unknown) => {
    instance = undefined;
    throw error;
  });
  const app = await instance;
  await app.keys.refresh();
  return app;
}
