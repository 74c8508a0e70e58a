/**
 * The composition root, as parts: each part builds one adapter or core service over the parts it
 * needs, once per process, on first use. A Lambda entry names the one service it calls
 * (`httpHandler(route, messages, …)`), so its bundle holds that service and what it is built
 * from, nothing else: a function that never sends a webhook carries no HTTP client, one that
 * never checks a payload no JSON Schema validator, and one that reads no sealed secret never
 * opens the data key. The local stack loads the same entries into one process and so shares
 * one instance of each part.
 */
import { BatchWriter } from './aws/batch-writer.ts';
import { type ClientOptions, documentClient, dynamoClient, secretsClient, sqsClient } from './aws/clients.ts';
import { DynamoApiKeyStore, DynamoTenantStore } from './aws/dynamo-access-stores.ts';
import { DynamoActionStore } from './aws/dynamo-action-store.ts';
import { DynamoDeliveryStore } from './aws/dynamo-delivery-store.ts';
import { DynamoEndpointStore, DynamoEventTypeStore } from './aws/dynamo-endpoint-stores.ts';
import { DynamoMessageStore } from './aws/dynamo-message-store.ts';
import { DynamoReplayTaskStore } from './aws/dynamo-replay-store.ts';
import { DynamoDispatchedMessages, DynamoDueWorkIndex, DynamoRateLimiter } from './aws/dynamo-scheduling.ts';
import { ApiIdempotency } from './aws/idempotency.ts';
import { ttlAttribute } from './aws/ledger-keys.ts';
import type { LedgerTable } from './aws/ledger-table.ts';
import { secretsManagerRootKeyVerifier, staticRootKeyVerifier } from './aws/root-key.ts';
import { type KeyRefresher, secretsManagerSecretBox } from './aws/secrets.ts';
import { SqsDeadLetterSink, SqsDeliveryQueue } from './aws/sqs-queues.ts';
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
import { EventTypeCatalog, EventTypeRegistry, EventTypeService } from './core/event-types.ts';
import { HistoryService } from './core/history.ts';
import { type IdGenerator, ulidIdGenerator } from './core/ids.ts';
import { InboxService } from './core/inbox.ts';
import { TenantIngestBudgets, TokenBucketBudget } from './core/ingest-budget.ts';
import { MessageLog, MessageService } from './core/messages.ts';
import { PortalSessionService } from './core/portal-sessions.ts';
import type { SystemEventPublisher } from './core/ports.ts';
import { RecoveryService } from './core/recovery.ts';
import { ReplayService } from './core/replay.ts';
import { SweeperService } from './core/sweeper.ts';
import { TenantDirectory, TenantService } from './core/tenants.ts';
import { SecretBox } from './crypto/secret-box.ts';
import { loadTracer } from './edge/observability.ts';
import { loadConfig, type SluiceConfig } from './env.ts';
import { AddressPolicy, DnsDestinationGuard } from './http/address-policy.ts';
import { NodeHttpSender } from './http/node-http-sender.ts';
import { AjvPayloadValidator } from './schema/ajv-validator.ts';

/** What every part is built from: the settings, and the clock and id source (tests may fix them). */
export interface Wiring {
  readonly config: SluiceConfig;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly random: () => number;
}

/** One piece of the composition: built once per wiring, on first use; a failed build is retried next time. */
export type Part<T> = (wiring: Wiring) => Promise<T>;

const built = new WeakMap<Wiring, Map<Part<unknown>, Promise<unknown>>>();

export function part<T>(build: (wiring: Wiring) => T | Promise<T>): Part<T> {
  const self: Part<T> = (wiring) => {
    let parts = built.get(wiring);
    if (!parts) {
      parts = new Map();
      built.set(wiring, parts);
    }
    const known = parts.get(self as Part<unknown>) as Promise<T> | undefined;
    if (known) return known;
    const building = Promise.resolve().then(() => build(wiring));
    parts.set(self as Part<unknown>, building);
    building.catch(() => parts.delete(self as Part<unknown>));
    return building;
  };
  return self;
}

export function wiringOf(config: SluiceConfig, overrides: Partial<Omit<Wiring, 'config'>> = {}): Wiring {
  const clock = overrides.clock ?? systemClock;
  return { config, clock, ids: overrides.ids ?? ulidIdGenerator(() => clock.now().getTime()), random: overrides.random ?? Math.random };
}

let processWiring: Wiring | undefined;

/** The process's wiring, from the environment on first use (a Lambda cold start, or the local stack's first request). */
export function wiring(): Wiring {
  processWiring ??= wiringOf(loadConfig());
  return processWiring;
}

/**
 * Each invocation gives the data keyring its chance to refresh (a timestamp check unless a
 * refresh is due), if this process has opened it; a rotation reaches warm containers this way.
 */
export async function refreshKeys(at: Wiring): Promise<void> {
  if (built.get(at)?.has(dataKeys as Part<unknown>)) await (await dataKeys(at)).refresher.refresh();
}

// Adapters: clients, keys, the ledger and the queues.

const tracer = /* @__PURE__ */ part(() => loadTracer());

/** What every AWS client is built with: the region, the local endpoint if any, and the tracer when tracing is on. */
async function clientOptions(w: Wiring, endpoint: string | undefined): Promise<ClientOptions> {
  const traced = await tracer(w);
  return { region: w.config.region, ...(endpoint && { endpoint }), ...(traced && { tracer: traced }) };
}

const secrets = /* @__PURE__ */ part(async (w) => secretsClient(await clientOptions(w, undefined)));

/** The data keyring: read from the environment locally (the local stack restarts to change it), from Secrets Manager in AWS. */
const dataKeys = /* @__PURE__ */ part(async (w): Promise<{ box: SecretBox; refresher: KeyRefresher }> => {
  const key = w.config.encryptionKey;
  return 'value' in key
    ? { box: new SecretBox(key.value), refresher: { refresh: async () => undefined } }
    : secretsManagerSecretBox(key.secretArn, await secrets(w));
});
const secretBox = /* @__PURE__ */ part(async (w) => (await dataKeys(w)).box);

/** Only the root key's hashes: the key itself is the rotation function's alone. */
const rootKey = /* @__PURE__ */ part(async (w) => {
  const verifier = w.config.rootKeyVerifier;
  return 'value' in verifier ? staticRootKeyVerifier(verifier.value) : secretsManagerRootKeyVerifier(verifier.secretArn, await secrets(w));
});

/** One DynamoDB client (one keep-alive pool) for the stores and the idempotency records. */
const dynamo = /* @__PURE__ */ part(async (w) => dynamoClient(await clientOptions(w, w.config.endpoints.dynamodb)));

const ledger = /* @__PURE__ */ part(
  async (w): Promise<LedgerTable> => ({
    client: documentClient(await clientOptions(w, w.config.endpoints.dynamodb), await dynamo(w)),
    name: w.config.tableName,
    retentionDays: w.config.retentionDays,
  }),
);

const sqs = /* @__PURE__ */ part(async (w) => sqsClient(await clientOptions(w, w.config.endpoints.sqs)));

const deliveryQueue = /* @__PURE__ */ part(
  async (w) => new SqsDeliveryQueue(await sqs(w), { primary: w.config.queues.delivery, retry: w.config.queues.retry }),
);

/** Parking for queue messages the pipeline can never process (unparseable jobs): an operator's problem, alarmed. */
export const deliveryDeadLetters = /* @__PURE__ */ part(
  async (w) => new SqsDeadLetterSink(await sqs(w), w.config.queues.deliveryDeadLetter),
);

const tenantStore = /* @__PURE__ */ part(async (w) => new DynamoTenantStore(await ledger(w)));
const apiKeyStore = /* @__PURE__ */ part(async (w) => new DynamoApiKeyStore(await ledger(w), await secretBox(w)));
const eventTypeStore = /* @__PURE__ */ part(async (w) => new DynamoEventTypeStore(await ledger(w)));
const endpointStore = /* @__PURE__ */ part(async (w) => new DynamoEndpointStore(await ledger(w), await secretBox(w)));
const messageStore = /* @__PURE__ */ part(async (w) => new DynamoMessageStore(await ledger(w)));
const actionStore = /* @__PURE__ */ part(async (w) => new DynamoActionStore(await ledger(w)));
const rateLimiter = /* @__PURE__ */ part(async (w) => new DynamoRateLimiter(await ledger(w)));
const deliveryStore = /* @__PURE__ */ part(async (w) => {
  const table = await ledger(w);
  return new DynamoDeliveryStore(table, new BatchWriter(table), await secretBox(w));
});

const schemaValidator = /* @__PURE__ */ part(() => new AjvPayloadValidator());
const httpSender = /* @__PURE__ */ part((w) => new NodeHttpSender(new AddressPolicy(w.config.destinations)));

// What the hot path would otherwise read on every message, kept for `cacheSeconds`.
const endpointDirectory = /* @__PURE__ */ part(async (w) => new EndpointDirectory(await endpointStore(w), w.clock, w.config.cacheSeconds));
const tenantDirectory = /* @__PURE__ */ part(async (w) => new TenantDirectory(await tenantStore(w), w.clock, w.config.cacheSeconds));
const eventTypeCatalog = /* @__PURE__ */ part(async (w) => new EventTypeCatalog(await eventTypeStore(w), w.clock, w.config.cacheSeconds));

// Core services: what the entries call.

/** Portal sessions are sealed with the data keys, which every authenticating function holds already (its API-key store). */
export const portalSessions = /* @__PURE__ */ part(
  async (w) => new PortalSessionService({ sealer: await secretBox(w), tenants: await tenantDirectory(w), clock: w.clock, ids: w.ids }),
);

export const access = /* @__PURE__ */ part(
  async (w) =>
    new AccessService({
      apiKeys: await apiKeyStore(w),
      rootKey: await rootKey(w),
      clock: w.clock,
      ids: w.ids,
      keyCacheSeconds: w.config.cacheSeconds,
      portalSessions: await portalSessions(w),
    }),
);

/** Idempotency-Key on the API's creating POSTs (`POST /v1/messages` keeps its own, in the message's slot). */
export const idempotency = /* @__PURE__ */ part(
  async (w) => new ApiIdempotency(await dynamo(w), w.config.tableName, ttlAttribute, await secretBox(w)),
);

export const tenants = /* @__PURE__ */ part(
  async (w) =>
    new TenantService({
      tenants: await tenantStore(w),
      access: await access(w),
      clock: w.clock,
      ids: w.ids,
      directory: await tenantDirectory(w),
    }),
);

export const apiKeys = /* @__PURE__ */ part(async (w) => new ApiKeyService(await access(w), await apiKeyStore(w)));

/** Reading and deleting event types. */
export const eventTypeRegistry = /* @__PURE__ */ part(
  async (w) => new EventTypeRegistry(await eventTypeStore(w), await eventTypeCatalog(w)),
);

/** The registry, plus declaring types (their schemas compiled: the JSON Schema validator). */
export const eventTypes = /* @__PURE__ */ part(
  async (w) => new EventTypeService(await eventTypeStore(w), await schemaValidator(w), w.clock, await eventTypeCatalog(w)),
);

/** Operational events go out through the message log, as any message. */
function systemEventsOf(log: MessageLog): SystemEventPublisher {
  return { publish: (tenantId, type, payload, options) => log.publishSystemEvent(tenantId, type, payload, options) };
}

export const endpoints = /* @__PURE__ */ part(
  async (w) =>
    new EndpointService({
      endpoints: await endpointStore(w),
      eventTypes: await eventTypeStore(w),
      deliveries: await deliveryStore(w),
      queue: await deliveryQueue(w),
      guard: new DnsDestinationGuard(new AddressPolicy(w.config.destinations)),
      clock: w.clock,
      ids: w.ids,
      directory: await endpointDirectory(w),
      systemEvents: systemEventsOf(await messageLog(w)),
    }),
);

/** Storing and reading messages, without ingest's payload checks. */
export const messageLog = /* @__PURE__ */ part(
  async (w) => new MessageLog({ messages: await messageStore(w), endpoints: await endpointDirectory(w), clock: w.clock, ids: w.ids }),
);

/** `POST /v1/messages`: the log, with the ingest budget and the payload schemas (the JSON Schema validator). */
export const messages = /* @__PURE__ */ part(
  async (w) =>
    new MessageService({
      messages: await messageStore(w),
      eventTypes: await eventTypeCatalog(w),
      validator: await schemaValidator(w),
      endpoints: await endpointDirectory(w),
      clock: w.clock,
      ids: w.ids,
      budget: new TenantIngestBudgets(await tenantDirectory(w), new TokenBucketBudget(w.clock), w.config.tenantIngestPerSecond),
    }),
);

export const dispatch = /* @__PURE__ */ part(
  async (w) => new DispatchService({ endpoints: await endpointDirectory(w), queue: await deliveryQueue(w), clock: w.clock }),
);

export const delivery = /* @__PURE__ */ part(async (w) => {
  const [deliveries, endpointRecords, directory, queue, sender, limiter, publisher, messageRecords] = await Promise.all([
    deliveryStore(w),
    endpointStore(w),
    endpointDirectory(w),
    deliveryQueue(w),
    httpSender(w),
    rateLimiter(w),
    messageLog(w),
    messageStore(w),
  ]);
  return new DeliveryService({
    deliveries,
    endpointStore: endpointRecords,
    endpoints: directory,
    loader: deliveries,
    queue,
    sender,
    rateLimiter: limiter,
    systemEvents: systemEventsOf(publisher),
    messages: messageRecords,
    clock: w.clock,
    random: w.random,
    failureWindowSeconds: w.config.endpointFailureWindowSeconds,
  });
});

export const history = /* @__PURE__ */ part(
  async (w) => new HistoryService(await deliveryStore(w), await messageStore(w), await endpointStore(w)),
);

export const endpointStats = /* @__PURE__ */ part(
  async (w) => new EndpointStatsService({ deliveries: await deliveryStore(w), endpoints: await endpointStore(w), clock: w.clock }),
);

export const recovery = /* @__PURE__ */ part(
  async (w) =>
    new RecoveryService({
      deliveries: await deliveryStore(w),
      endpoints: await endpointStore(w),
      queue: await deliveryQueue(w),
      clock: w.clock,
    }),
);

/** Bulk replays: started by the API, stepped on the retry lane. */
export const replays = /* @__PURE__ */ part(
  async (w) =>
    new ReplayService({
      tasks: new DynamoReplayTaskStore(await ledger(w)),
      deliveries: await deliveryStore(w),
      endpoints: await endpointStore(w),
      queue: await deliveryQueue(w),
      clock: w.clock,
      ids: w.ids,
    }),
);

/** What a delivery lane's consumer runs: attempts, and the replay steps that travel the retry lane. */
export const deliveryLane = /* @__PURE__ */ part(async (w) => ({ delivery: await delivery(w), replays: await replays(w) }));

export const tester = /* @__PURE__ */ part(
  async (w) =>
    new EndpointTester({ endpoints: await endpointStore(w), messages: await messageLog(w), delivery: await delivery(w), clock: w.clock }),
);

export const sweeper = /* @__PURE__ */ part(
  async (w) =>
    new SweeperService({
      due: new DynamoDueWorkIndex(await ledger(w)),
      deliveries: await deliveryStore(w),
      messages: await messageStore(w),
      dispatched: new DynamoDispatchedMessages(await ledger(w)),
      endpoints: await endpointDirectory(w),
      deliveryQueue: await deliveryQueue(w),
      clock: w.clock,
      graceSeconds: w.config.sweepGraceSeconds,
    }),
);

export const actions = /* @__PURE__ */ part(
  async (w) => new ActionService({ actions: await actionStore(w), apiKeys: await apiKeys(w), clock: w.clock, ids: w.ids }),
);

export const hooks = /* @__PURE__ */ part(
  async (w) =>
    new HookService({
      access: await access(w),
      actions: await actionStore(w),
      endpoints: await endpointDirectory(w),
      messages: await messageLog(w),
      rateLimiter: await rateLimiter(w),
      clock: w.clock,
      ids: w.ids,
      rateLimitPerSecond: w.config.hookRateLimitPerSecond,
    }),
);

export const inbox = /* @__PURE__ */ part(
  async (w) =>
    new InboxService({
      deliveries: await deliveryStore(w),
      messages: await messageStore(w),
      endpoints: await endpointStore(w),
      clock: w.clock,
      ids: w.ids,
    }),
);

/** Builds the part for this process and refreshes the data keyring if due: what every edge calls per invocation. */
export async function use<T>(service: Part<T>): Promise<T> {
  const at = wiring();
  const value = await service(at);
  await refreshKeys(at);
  return value;
}
