/**
 * `npm run bench`: what a delivery costs and how fast the local platform moves, with the
 * baselines it is judged against measured in the same run on the same machine, so the figures
 * are ratios and counts, not claims.
 *
 *   baseline A   signed POSTs from this thread straight to the receivers (the delivery ceiling)
 *   baseline B   DynamoDB Local PutItem, 16 in flight, with Sluice's own client (the ledger's ceiling)
 *   throughput   2 endpoints, 1 KiB payloads, an Idempotency-Key on every post: deliveries/s and
 *                ingest/s while deliveries run
 *   cost         the same traffic again, every AWS call counted (DynamoDB capacity from the
 *                service's own ReturnConsumedCapacity, SQS billing units, Lambda GB-s, log bytes),
 *                the sweeper's check of every message included, turned into dollars
 *   filters      10 endpoints with filters on every one against none: DynamoDB requests and write
 *                units per message (a filter must cost no request; a filtered-out pair no write)
 *   fan-out      10 endpoints, end to end
 *   hanging      4 endpoints, 3 of which never answer (10 s timeout): the healthy one's latency
 *   flood        one tenant floods ingest with 32 clients while a quiet tenant posts 10 a second
 *   replay       deliveries that went dead during an outage, replayed in the background once the
 *                receiver is back: what one replayed delivery costs, and how close to its pace it runs
 *
 * The throughput, cost and fan-out tenants are created with `ingestPerSecond: 0` (a big
 * customer's raised limit); the hanging and flood tenants post under the default budget.
 *
 * Clients and receivers run on a worker thread (test/bench/load.ts), as they would run on other
 * machines. Writes .bench/results.json and .bench/chart.png. Environment: BENCH_MESSAGES
 * (default 1000), BENCH_CONCURRENCY (16), BENCH_PAYLOAD_BYTES (1024), BENCH_SCENARIOS (comma
 * list, default all), BENCH_OUT (.bench), BENCH_PROFILE (a CPU profile of the throughput run).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { Agent, request } from 'undici';
import { documentClient } from '../../functions/lib/aws/clients.ts';
import { DEFAULT_REPLAY_PER_SECOND } from '../../functions/lib/core/replay.ts';
import { signatureHeader } from '../../functions/lib/core/signing.ts';
import { LocalStack } from '../../infra/local/local-stack.ts';
import { awsPrices } from './aws-prices.ts';
import { type LatencySample, renderChart, type ThroughputPoint } from './chart.ts';
import { LoadClient, type PostResult, type Received } from './load.ts';
import { realisticPayload } from './payload.ts';
import { BenchUsage, type UsageTotals } from './usage.ts';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const PAYLOAD_BYTES = Number(process.env.BENCH_PAYLOAD_BYTES ?? 1024);
const OUT = process.env.BENCH_OUT ?? '.bench';
const SCENARIOS = new Set((process.env.BENCH_SCENARIOS ?? 'throughput,cost,filters,fanout,hanging,flood,replay').split(','));
const PROFILE = process.env.BENCH_PROFILE;
/**
 * The sweeper checks every dispatched message once, when it is `grace` + its endpoints' timeout
 * old: that read is part of what a delivery costs, so the bench runs it sooner than production
 * (120 s) and waits for it before reading the meter.
 */
const SWEEP_GRACE_SECONDS = 10;
const SWEEP_INTERVAL_SECONDS = 2;
const COST_ENDPOINT_TIMEOUT_MS = 2000;
const EVENT_TYPE = 'lock.unlocked';

// ---------------------------------------------------------------------------------------------
// Small tools

let lastBar = 0;

/** A progress bar on stderr, redrawn at most ten times a second (and once at the end). */
function bar(label: string, done: number, total: number, startedMs: number): void {
  const now = performance.now();
  if (done < total && now - lastBar < 100) return;
  lastBar = now;
  const width = 30;
  const filled = Math.round((Math.min(done, total) / total) * width);
  const rate = done / ((performance.now() - startedMs) / 1000 || 1);
  process.stderr.write(
    `\r  ${label.padEnd(30)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}  ${rate.toFixed(0)}/s   `,
  );
  if (done >= total) process.stderr.write('\n');
}

async function pool<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const index = next++;
        await work(items[index] as T, index);
      }
    }),
  );
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function latencySummary(values: readonly number[]) {
  return {
    count: values.length,
    p50: Math.round(percentile(values, 50)),
    p95: Math.round(percentile(values, 95)),
    p99: Math.round(percentile(values, 99)),
    max: Math.round(Math.max(...values)),
  };
}

async function profiled<T>(work: () => Promise<T>): Promise<T> {
  if (!PROFILE) return work();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(PROFILE, JSON.stringify(profile));
    session.disconnect();
  }
}

const apiAgent = new Agent({ connections: 16 });

async function api(apiUrl: string, key: string, method: string, route: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await request(`${apiUrl}${route}`, {
    method: method as 'GET',
    dispatcher: apiAgent,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  const answer = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (response.statusCode >= 300) throw new Error(`${method} ${route} → ${response.statusCode} ${text}`);
  return answer;
}

interface Tenant {
  readonly id: string;
  readonly key: string;
}

/**
 * A tenant with the bench's event type. `ingestPerSecond` is its own budget: the throughput
 * scenarios post as fast as they can, as a big customer whose limit was raised would (0: none).
 */
async function tenant(stack: LocalStack, name: string, ingestPerSecond?: number): Promise<Tenant> {
  const created = await api(stack.apiUrl, stack.rootKey, 'POST', '/v1/tenants', {
    name,
    ...(ingestPerSecond !== undefined && { ingestPerSecond }),
  });
  const key = String(created.apiKey);
  await api(stack.apiUrl, key, 'PUT', `/v1/event-types/${EVENT_TYPE}`, {
    schema: { type: 'object', required: ['sequence', 'lockId'], properties: { sequence: { type: 'integer' }, lockId: { type: 'string' } } },
  });
  return { id: String(created.id), key };
}

interface Receivers {
  readonly ids: number[];
  readonly urls: string[];
}

async function receivers(load: LoadClient, count: number, hang = false): Promise<Receivers> {
  const started = await load.send({ op: 'receivers', count, hang });
  return { ids: started.map((r) => r.id), urls: started.map((r) => r.url) };
}

async function endpoints(stack: LocalStack, owner: Tenant, urls: readonly string[], extra: object = {}): Promise<string[]> {
  const ids: string[] = [];
  for (const url of urls)
    ids.push(String((await api(stack.apiUrl, owner.key, 'POST', '/v1/endpoints', { url, eventTypes: [EVENT_TYPE], ...extra })).id));
  return ids;
}

async function received(load: LoadClient, of: Receivers): Promise<Received[]> {
  return (await load.send({ op: 'received', ids: of.ids })).flat();
}

/** Waits until the receivers saw `total` distinct deliveries, drawing progress. */
async function waitForDeliveries(load: LoadClient, of: Receivers, total: number, label: string, timeoutMs = 600_000): Promise<Received[]> {
  const started = performance.now();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await received(load, of);
    const distinct = new Set(all.map((r) => r.deliveryId)).size;
    bar(`${label}: delivered`, distinct, total, started);
    if (distinct >= total) return all;
    if (Date.now() > deadline) throw new Error(`${label}: only ${distinct}/${total} deliveries after ${timeoutMs / 1000} s`);
    await sleep(200);
  }
}

/**
 * Waits until the delivery and retry queues are empty (visible, in flight and delayed), so a
 * scenario measures its own traffic and not the tail of the one before (the hanging scenario
 * leaves hundreds of retries behind).
 */
async function settle(stack: LocalStack, label: string, timeoutMs = 180_000): Promise<void> {
  const sqs = new SQSClient({
    endpoint: stack.sqsEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const started = performance.now();
  const deadline = Date.now() + timeoutMs;
  let most = 0;
  try {
    for (let quietPolls = 0; quietPolls < 2; ) {
      let waiting = 0;
      for (const queue of [stack.queues.delivery, stack.queues.retry]) {
        const { Attributes: a = {} } = await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: queue.url,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
          }),
        );
        waiting +=
          Number(a.ApproximateNumberOfMessages ?? 0) +
          Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) +
          Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
      }
      most = Math.max(most, waiting);
      if (most > 0) bar(`${label}: settling (queued jobs)`, most - waiting, most, started);
      quietPolls = waiting === 0 ? quietPolls + 1 : 0;
      if (Date.now() > deadline) throw new Error(`${label}: ${waiting} jobs still queued after ${timeoutMs / 1000} s`);
      await sleep(500);
    }
  } finally {
    sqs.destroy();
  }
}

/** Posts with progress from the worker. */
async function posting(load: LoadClient, work: Promise<PostResult>, label: string, total: number): Promise<PostResult> {
  const started = performance.now();
  let finished = false;
  const result = work.finally(() => {
    finished = true;
  });
  while (!finished) {
    bar(label, await load.send({ op: 'progress' }), total, started);
    await Promise.race([result, sleep(200)]);
  }
  bar(label, total, total, started);
  return result;
}

/**
 * Posts `count` bench messages from `owner`, CONCURRENCY at once, with a progress bar; each with
 * an Idempotency-Key (`<keyPrefix>-<tenant>-<i>`) unless `idempotent` is false.
 */
function ingest(
  load: LoadClient,
  stack: LocalStack,
  owner: Tenant,
  count: number,
  options: { readonly keyPrefix: string; readonly progress: string; readonly idempotent?: boolean },
): Promise<PostResult> {
  const post = load.send({
    op: 'post',
    apiUrl: stack.apiUrl,
    key: owner.key,
    type: EVENT_TYPE,
    count,
    concurrency: CONCURRENCY,
    label: `${options.keyPrefix}-${owner.id}`,
    payloadBytes: PAYLOAD_BYTES,
    idempotent: options.idempotent ?? true,
  });
  return posting(load, post, options.progress, count);
}

/** Accept → receive of first attempts, by the message's post time. */
function latencies(all: readonly Received[], postedAt: ReadonlyMap<string, number>): number[] {
  return all.filter((r) => r.attempt === '1').map((r) => r.receivedAt - (postedAt.get(r.webhookId) ?? r.receivedAt));
}

function duplicates(all: readonly Received[]): number {
  const keys = all.map((r) => `${r.deliveryId}#${r.attempt}`);
  return keys.length - new Set(keys).size;
}

/** Per-second counts of timestamps (ms since epoch), from `start`. */
function perSecond(timestamps: readonly number[], start: number, scenario: string, series: string): ThroughputPoint[] {
  const buckets = new Map<number, number>();
  for (const t of timestamps) {
    const second = Math.floor((t - start) / 1000);
    buckets.set(second, (buckets.get(second) ?? 0) + 1);
  }
  const last = Math.max(0, ...buckets.keys());
  return Array.from({ length: last + 1 }, (_, second) => ({ scenario, series, second, perSecond: buckets.get(second) ?? 0 }));
}

// ---------------------------------------------------------------------------------------------
// Baselines

async function baselineRawPosts(targets: Receivers, total: number, label: string): Promise<number> {
  const agent = new Agent({ connections: 64 });
  const body = JSON.stringify({ id: 'msg_x', type: 'bench.event', data: realisticPayload(PAYLOAD_BYTES, 0) });
  const secret = [{ value: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', createdAt: '' }];
  let done = 0;
  const started = performance.now();
  await pool(
    Array.from({ length: total }, (_, i) => i),
    CONCURRENCY * 2,
    async (i) => {
      const url = targets.urls[i % targets.urls.length] as string;
      const response = await request(url, {
        method: 'POST',
        dispatcher: agent,
        body,
        headers: {
          'content-type': 'application/json',
          'webhook-id': 'msg_x',
          'webhook-signature': signatureHeader(secret, 'msg_x', new Date(), body),
        },
      });
      await response.body.dump();
      bar(label, ++done, total, started);
    },
  );
  const rate = total / ((performance.now() - started) / 1000);
  await agent.close();
  return rate;
}

async function baselinePutItem(stack: LocalStack, total: number, round: string): Promise<number> {
  // The client Sluice's own stores use: the ceiling is the ledger's, not a slower client's.
  const ddb = documentClient({ region: 'us-east-1', endpoint: stack.dynamodb.endpoint });
  const body = JSON.stringify(realisticPayload(PAYLOAD_BYTES, 0));
  let done = 0;
  const started = performance.now();
  await pool(
    Array.from({ length: total }, (_, i) => i),
    16,
    async (i) => {
      await ddb.send(new PutCommand({ TableName: 'sluice-ledger', Item: { pk: `BENCH#${round}#${i}`, sk: 'BENCH', body } }));
      bar(`baseline B (PutItem, ${round})`, ++done, total, started);
    },
  );
  const rate = total / ((performance.now() - started) / 1000);
  ddb.destroy();
  return rate;
}

// ---------------------------------------------------------------------------------------------
// Scenarios

interface ChartData {
  readonly throughput: ThroughputPoint[];
  readonly latency: LatencySample[];
}

/** Two endpoints, N keyed messages: deliveries/s, ingest/s, latency. Returns when all arrived. */
async function twoEndpointRun(stack: LocalStack, load: LoadClient, label: string, timeoutMs?: number) {
  const owner = await tenant(stack, `bench ${label}`, 0);
  const targets = await receivers(load, 2);
  await endpoints(stack, owner, targets.urls, timeoutMs ? { timeoutMs } : {});
  // Warm the caches and the paths once: what a delivery costs, not a cold start.
  await api(stack.apiUrl, owner.key, 'POST', '/v1/messages', { type: EVENT_TYPE, payload: realisticPayload(PAYLOAD_BYTES, -1) });
  await waitForDeliveries(load, targets, 2, `${label}: warm-up`);
  await load.send({ op: 'forget' });
  await sleep(300);
  const start = Date.now();
  const total = MESSAGES * 2;
  const flow = await ingest(load, stack, owner, MESSAGES, { keyPrefix: label, progress: `${label}: ingest` });
  const all = await waitForDeliveries(load, targets, total, label);
  const end = Math.max(...all.map((r) => r.receivedAt));
  return { owner, flow, all, start, end, total };
}

async function throughputScenario(stack: LocalStack, load: LoadClient, chart: ChartData) {
  console.log(`\nthroughput: ${MESSAGES} messages × 2 endpoints, ${PAYLOAD_BYTES}-byte payloads, Idempotency-Key on every post`);
  const { flow, all, start, end, total } = await profiled(() => twoEndpointRun(stack, load, 'throughput'));
  const postedAt = new Map(flow.postedAt);
  const lat = latencies(all, postedAt);
  chart.throughput.push(
    ...perSecond(flow.acceptedAt, start, '2 endpoints', 'messages accepted'),
    ...perSecond(
      all.map((r) => r.receivedAt),
      start,
      '2 endpoints',
      'deliveries received',
    ),
  );
  chart.latency.push(...lat.map((ms) => ({ scenario: '2 endpoints', ms })));
  return {
    messages: MESSAGES,
    deliveries: total,
    ingestPerSecond: MESSAGES / flow.seconds,
    deliveriesPerSecond: total / ((end - start) / 1000),
    acceptMs: latencySummary(flow.acceptMs),
    latencyMs: latencySummary(lat),
    duplicates: duplicates(all),
  };
}

interface PerDelivery {
  readonly dynamodbRequests: number;
  readonly writeUnits: number;
  readonly readUnits: number;
  readonly sqsRequests: number;
  readonly sqsBilledRequests: number;
  readonly lambdaInvocations: number;
  readonly lambdaGbSeconds: number;
  readonly apiRequests: number;
  readonly logBytes: number;
  readonly dynamodbByCommand: Record<string, { requests: number; writeUnits: number; readUnits: number }>;
  readonly sqsByCommand: Record<string, number>;
  readonly lambdaByFunction: Record<string, { invocations: number; gbSeconds: number }>;
}

function perDelivery(usage: UsageTotals, deliveries: number): PerDelivery {
  const per = (n: number) => n / deliveries;
  return {
    dynamodbRequests: per(usage.dynamodb.requests),
    writeUnits: per(usage.dynamodb.writeUnits),
    readUnits: per(usage.dynamodb.readUnits),
    sqsRequests: per(usage.sqs.requests),
    sqsBilledRequests: per(usage.sqs.billedRequests),
    lambdaInvocations: per(usage.lambda.invocations),
    lambdaGbSeconds: per(usage.lambda.gbSeconds),
    apiRequests: per(usage.apiRequests),
    logBytes: per(usage.logBytes + usage.lambda.invocations * awsPrices.cloudWatchLogs.platformBytesPerInvocation),
    dynamodbByCommand: Object.fromEntries(
      Object.entries(usage.dynamodb.byCommand).map(([command, c]) => [
        command,
        { requests: per(c.requests), writeUnits: per(c.writeUnits), readUnits: per(c.readUnits) },
      ]),
    ),
    sqsByCommand: Object.fromEntries(Object.entries(usage.sqs.byCommand).map(([command, n]) => [command, per(n)])),
    lambdaByFunction: Object.fromEntries(
      Object.entries(usage.lambda.byFunction).map(([name, f]) => [name, { invocations: per(f.invocations), gbSeconds: per(f.gbSeconds) }]),
    ),
  };
}

interface Dollars {
  readonly dynamodbOnDemand: number;
  readonly dynamodbProvisioned: number;
  readonly sqs: number;
  readonly apiGateway: number;
  readonly lambda: number;
  readonly cloudWatchLogs: number;
  readonly totalOnDemand: number;
  readonly totalProvisioned: number;
  readonly eventBridgeApiDestinations: number;
}

/** Dollars per million deliveries at the list prices in aws-prices.ts. */
function dollars(p: PerDelivery, endpointsPerMessage: number): Dollars {
  const million = 1_000_000;
  const d = awsPrices.dynamodb;
  const dynamodbOnDemand = p.writeUnits * d.onDemandPerMillionWriteUnits + p.readUnits * d.onDemandPerMillionReadUnits;
  // A million deliveries' units spread over unit-hours of provisioned capacity at the utilisation.
  const dynamodbProvisioned =
    ((p.writeUnits * million) / 3600) * (d.provisionedPerWriteUnitHour / d.provisionedUtilisation) +
    ((p.readUnits * million) / 3600) * (d.provisionedPerReadUnitHour / d.provisionedUtilisation);
  const sqs = p.sqsBilledRequests * awsPrices.sqs.perMillionRequests;
  const apiGateway = p.apiRequests * awsPrices.apiGateway.httpApiPerMillionRequests;
  const lambda = p.lambdaInvocations * awsPrices.lambda.perMillionRequests + p.lambdaGbSeconds * million * awsPrices.lambda.perGbSecond;
  const cloudWatchLogs = ((p.logBytes * million) / 1024 ** 3) * awsPrices.cloudWatchLogs.perGbIngested;
  const rest = sqs + apiGateway + lambda + cloudWatchLogs;
  const eb = awsPrices.eventBridge;
  return {
    dynamodbOnDemand,
    dynamodbProvisioned,
    sqs,
    apiGateway,
    lambda,
    cloudWatchLogs,
    totalOnDemand: dynamodbOnDemand + rest,
    totalProvisioned: dynamodbProvisioned + rest,
    eventBridgeApiDestinations: eb.perMillionEvents / endpointsPerMessage + eb.perMillionApiDestinationInvocations,
  };
}

async function costScenario(stack: LocalStack, load: LoadClient, usage: BenchUsage) {
  console.log(`\ncost: the same traffic, every AWS call counted, the sweeper's check included`);
  usage.countCapacity = true;
  usage.reset();
  const { flow, total } = await twoEndpointRun(stack, load, 'cost', COST_ENDPOINT_TIMEOUT_MS);
  // The sweeper's check of the last message (grace + the endpoints' timeout), then the meter.
  const checkedBy =
    Math.max(...flow.acceptedAt) + (SWEEP_GRACE_SECONDS + COST_ENDPOINT_TIMEOUT_MS / 1000 + 2 * SWEEP_INTERVAL_SECONDS + 1) * 1000;
  process.stderr.write(`  waiting ${Math.max(0, Math.round((checkedBy - Date.now()) / 1000))} s for the sweeper to check every message\n`);
  await sleep(Math.max(1500, checkedBy - Date.now()));
  const totals = usage.totals();
  usage.countCapacity = false;
  // The warm-up message and its two deliveries are in the meter too: count them.
  const deliveries = total + 2;
  const per = perDelivery(totals, deliveries);
  return { deliveries, usage: totals, perDelivery: per, dollarsPerMillionDeliveries: dollars(per, 2) };
}

interface ReplayRun {
  readonly deliveries: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** The pace the replay aims at: the endpoint sets no rate limit, so the default. */
  readonly pacePerSecond: number;
  readonly perDelivery: PerDelivery;
  readonly dollarsPerMillionDeliveries: Dollars;
}

/**
 * Deliveries that went dead against a refused port are replayed once the endpoint points at a
 * receiver. The meter runs from the replay's start to its last attempt: the task's steps, each
 * attempt's claim and record, the queue traffic.
 */
async function replayScenario(stack: LocalStack, load: LoadClient, usage: BenchUsage): Promise<ReplayRun> {
  const count = Math.max(100, Math.round(MESSAGES / 2));
  const pace = DEFAULT_REPLAY_PER_SECOND;
  console.log(`\nreplay: ${count} dead deliveries, replayed at the default pace (${pace}/s)`);
  await settle(stack, 'replay: before');
  const owner = await tenant(stack, 'bench replay', 0);
  const [endpointId] = await endpoints(stack, owner, ['http://127.0.0.1:9/down'], {
    retryPolicy: { delaysSeconds: [1] },
    timeoutMs: COST_ENDPOINT_TIMEOUT_MS,
  });
  const since = new Date(Date.now() - 1000).toISOString();
  await ingest(load, stack, owner, count, { keyPrefix: 'replay', progress: 'replay: ingest', idempotent: false });
  const deadSince = performance.now();
  for (;;) {
    const stats = await api(stack.apiUrl, owner.key, 'GET', `/v1/endpoints/${endpointId}/stats`);
    const dead = Number((stats.totals as Record<string, number>).dead ?? 0);
    bar('replay: dead after the outage', dead, count, deadSince);
    if (dead >= count) break;
    await sleep(500);
  }
  const targets = await receivers(load, 1);
  await api(stack.apiUrl, owner.key, 'PATCH', `/v1/endpoints/${endpointId}`, { url: targets.urls[0] });
  await settle(stack, 'replay: the outage settled');
  usage.countCapacity = true;
  usage.reset();
  const started = performance.now();
  const task = await api(stack.apiUrl, owner.key, 'POST', `/v1/endpoints/${endpointId}/replay`, { since });
  await waitForDeliveries(load, targets, count, 'replay');
  const seconds = (performance.now() - started) / 1000;
  for (;;) {
    const now = await api(stack.apiUrl, owner.key, 'GET', `/v1/tasks/${String(task.id)}`);
    if (now.status !== 'queued' && now.status !== 'running') {
      if (now.status !== 'done') throw new Error(`replay task ended ${String(now.status)}: ${String(now.error)}`);
      break;
    }
    await sleep(500);
  }
  // The last attempts' records land after their POSTs.
  await sleep(2000);
  const totals = usage.totals();
  usage.countCapacity = false;
  const per = perDelivery(totals, count);
  return {
    deliveries: count,
    seconds,
    perSecond: count / seconds,
    pacePerSecond: pace,
    perDelivery: per,
    dollarsPerMillionDeliveries: dollars(per, 1),
  };
}

/** A filter that holds for every bench message (the warm-up's sequence is -1): a number, a presence test, a nested `$or` and the type. */
const matchingFilter = {
  'data.sequence': { $gte: -1 },
  'data.lockId': { $exist: true },
  $or: [{ type: EVENT_TYPE }, { 'metadata.source': { $in: ['bench', 'replay'] } }],
};
/** One no bench message meets: no sequence is below -1. */
const missingFilter = { 'data.sequence': { $lt: -1 }, 'data.lockId': { $exist: true } };

interface FilterRun {
  readonly variant: string;
  readonly messages: number;
  readonly deliveries: number;
  readonly perMessage: {
    readonly dynamodbRequests: number;
    /** Of them, Queries: the sweeper's index reads and the endpoint-cache refills, which come per second of the run, not per message. */
    readonly queryRequests: number;
    readonly writeUnits: number;
    readonly readUnits: number;
    readonly sqsRequests: number;
  };
}

/**
 * The same messages to 10 endpoints without filters, with a filter on each that holds, and with
 * filters that turn half of them away, each run metered alone (sweeper check included): a filter
 * must add no DynamoDB request per message, and a filtered-out pair must cost nothing.
 */
async function filtersScenario(stack: LocalStack, load: LoadClient, usage: BenchUsage): Promise<FilterRun[]> {
  const ENDPOINTS = 10;
  const messages = Math.max(20, Math.round(MESSAGES / 10));
  console.log(`
filters: ${messages} messages × ${ENDPOINTS} endpoints, three ways`);
  const variants = [
    { variant: 'no filters', filterOf: (_i: number): object | undefined => undefined, matching: ENDPOINTS },
    { variant: 'a filter on each, all hold', filterOf: (_i: number): object | undefined => matchingFilter, matching: ENDPOINTS },
    {
      variant: 'a filter on each, half hold',
      filterOf: (i: number): object | undefined => (i % 2 === 0 ? matchingFilter : missingFilter),
      matching: ENDPOINTS / 2,
    },
  ];
  const runs: FilterRun[] = [];
  for (const { variant, filterOf, matching } of variants) {
    await settle(stack, `filters: before ${variant}`);
    const owner = await tenant(stack, `bench filters ${variant}`, 0);
    const targets = await receivers(load, ENDPOINTS);
    for (const [i, url] of targets.urls.entries()) {
      const filter = filterOf(i);
      await api(stack.apiUrl, owner.key, 'POST', '/v1/endpoints', {
        url,
        eventTypes: [EVENT_TYPE],
        timeoutMs: COST_ENDPOINT_TIMEOUT_MS,
        ...(filter && { filter }),
      });
    }
    // Warm the caches (the tenant's endpoints, its event type) outside the meter.
    await api(stack.apiUrl, owner.key, 'POST', '/v1/messages', { type: EVENT_TYPE, payload: realisticPayload(PAYLOAD_BYTES, -1) });
    await waitForDeliveries(load, targets, matching, `filters ${variant}: warm-up`);
    await sleep((SWEEP_GRACE_SECONDS + COST_ENDPOINT_TIMEOUT_MS / 1000 + 2 * SWEEP_INTERVAL_SECONDS + 1) * 1000);
    usage.countCapacity = true;
    usage.reset();
    const flow = await ingest(load, stack, owner, messages, { keyPrefix: 'filters', progress: `filters ${variant}: ingest` });
    await waitForDeliveries(load, targets, messages * matching + matching, `filters ${variant}`);
    const checkedBy =
      Math.max(...flow.acceptedAt) + (SWEEP_GRACE_SECONDS + COST_ENDPOINT_TIMEOUT_MS / 1000 + 2 * SWEEP_INTERVAL_SECONDS + 1) * 1000;
    await sleep(Math.max(1500, checkedBy - Date.now()));
    const totals = usage.totals();
    usage.countCapacity = false;
    const per = (n: number) => n / messages;
    runs.push({
      variant,
      messages,
      deliveries: messages * matching,
      perMessage: {
        dynamodbRequests: per(totals.dynamodb.requests),
        queryRequests: per(totals.dynamodb.byCommand.Query?.requests ?? 0),
        writeUnits: per(totals.dynamodb.writeUnits),
        readUnits: per(totals.dynamodb.readUnits),
        sqsRequests: per(totals.sqs.requests),
      },
    });
    await load.send({ op: 'forget' });
  }
  return runs;
}

async function fanOutScenario(stack: LocalStack, load: LoadClient, chart: ChartData) {
  const ENDPOINTS = 10;
  const messages = Math.max(20, Math.round(MESSAGES / 5));
  console.log(`\nfan-out: ${messages} messages × ${ENDPOINTS} endpoints`);
  const owner = await tenant(stack, 'bench fan-out', 0);
  const targets = await receivers(load, ENDPOINTS);
  await endpoints(stack, owner, targets.urls);
  const start = Date.now();
  const flow = await ingest(load, stack, owner, messages, { keyPrefix: 'fan-out', progress: 'fan-out: ingest' });
  const total = messages * ENDPOINTS;
  const all = await waitForDeliveries(load, targets, total, 'fan-out');
  const end = Math.max(...all.map((r) => r.receivedAt));
  const lat = latencies(all, new Map(flow.postedAt));
  chart.throughput.push(
    ...perSecond(
      all.map((r) => r.receivedAt),
      start,
      '10 endpoints',
      'deliveries received',
    ),
  );
  chart.latency.push(...lat.map((ms) => ({ scenario: '10 endpoints', ms })));
  return {
    messages,
    deliveries: total,
    ingestPerSecond: messages / flow.seconds,
    deliveriesPerSecond: total / ((end - start) / 1000),
    latencyMs: latencySummary(lat),
    duplicates: duplicates(all),
  };
}

async function hangingScenario(stack: LocalStack, load: LoadClient, chart: ChartData) {
  const messages = 200;
  const perSecondRate = 20;
  console.log(`\nhanging: 3 of 4 endpoints never answer (10 s timeout); ${messages} messages at ${perSecondRate}/s`);
  const owner = await tenant(stack, 'bench hanging');
  const healthy = await receivers(load, 1);
  const hanging = await receivers(load, 3, true);
  await endpoints(stack, owner, healthy.urls);
  const hangingIds = await endpoints(stack, owner, hanging.urls, { timeoutMs: 10_000 });
  try {
    const flow = await posting(
      load,
      load.send({
        op: 'paced',
        apiUrl: stack.apiUrl,
        key: owner.key,
        type: EVENT_TYPE,
        count: messages,
        perSecond: perSecondRate,
        payloadBytes: PAYLOAD_BYTES,
      }),
      'hanging: ingest',
      messages,
    );
    const all = await waitForDeliveries(load, healthy, messages, 'hanging: healthy endpoint', 120_000);
    const lat = latencies(all, new Map(flow.postedAt));
    chart.latency.push(...lat.map((ms) => ({ scenario: 'healthy beside 3 hanging', ms })));
    return { messages, healthyLatencyMs: latencySummary(lat) };
  } finally {
    // Stop the hanging endpoints' retries so they do not weigh on the next scenario.
    for (const id of hangingIds) await api(stack.apiUrl, owner.key, 'PATCH', `/v1/endpoints/${id}`, { disabled: true });
  }
}

async function floodScenario(stack: LocalStack, load: LoadClient, chart: ChartData) {
  const seconds = 15;
  const quietRate = 10;
  console.log(`\nflood: one tenant posts with 32 clients for ${seconds} s; a quiet tenant posts ${quietRate}/s`);
  const flooder = await tenant(stack, 'bench flooder');
  const quiet = await tenant(stack, 'bench quiet');
  const floodTargets = await receivers(load, 1);
  const quietTargets = await receivers(load, 1);
  await endpoints(stack, flooder, floodTargets.urls);
  await endpoints(stack, quiet, quietTargets.urls);
  const start = Date.now();
  const flood = load.send({
    op: 'flood',
    apiUrl: stack.apiUrl,
    key: flooder.key,
    type: EVENT_TYPE,
    seconds,
    clients: 32,
    payloadBytes: PAYLOAD_BYTES,
  });
  const quietTotal = seconds * quietRate;
  // A second client on the main thread would share it with the platform: the quiet tenant posts from the worker too.
  const quietFlow = await posting(
    load,
    load.send({
      op: 'paced',
      apiUrl: stack.apiUrl,
      key: quiet.key,
      type: EVENT_TYPE,
      count: quietTotal,
      perSecond: quietRate,
      payloadBytes: PAYLOAD_BYTES,
    }),
    'flood: quiet tenant',
    quietTotal,
  );
  const flooded = await flood;
  const all = await waitForDeliveries(load, quietTargets, quietTotal, 'flood: quiet delivered', 300_000);
  const lat = latencies(all, new Map(quietFlow.postedAt));
  chart.latency.push(...lat.map((ms) => ({ scenario: 'quiet tenant during a flood', ms })));
  chart.throughput.push(
    ...perSecond(
      (await received(load, floodTargets)).map((r) => r.receivedAt),
      start,
      'flood',
      'flooder deliveries',
    ),
    ...perSecond(
      all.map((r) => r.receivedAt),
      start,
      'flood',
      'quiet deliveries',
    ),
  );
  return {
    seconds,
    flooderAccepted: flooded.accepted,
    flooderThrottled: flooded.throttled,
    quietAcceptMs: latencySummary(quietFlow.acceptMs),
    quietAcceptToReceiveMs: latencySummary(lat),
  };
}

// ---------------------------------------------------------------------------------------------

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

async function main(): Promise<void> {
  console.log(`Sluice bench: ${MESSAGES} messages, ${CONCURRENCY} clients, ${PAYLOAD_BYTES}-byte payloads`);
  const usage = BenchUsage.install();
  const load = new LoadClient();
  const stack = await LocalStack.start({
    dataDir: ':memory:',
    port: 0,
    host: '127.0.0.1',
    progress: (line) => process.stderr.write(`${line}\n`),
    onRequest: () => usage.apiRequest(),
    sweepIntervalSeconds: SWEEP_INTERVAL_SECONDS,
    // Production defaults: INFO delivery log and EMF metrics, both counted as CloudWatch Logs bytes.
    env: {
      POWERTOOLS_LOG_LEVEL: 'INFO',
      SLUICE_SWEEP_GRACE_SECONDS: String(SWEEP_GRACE_SECONDS),
    },
  });
  const chart: ChartData = { throughput: [], latency: [] };
  const results: Record<string, unknown> = { recordedAt: new Date().toISOString(), messages: MESSAGES, payloadBytes: PAYLOAD_BYTES };
  try {
    // Each baseline runs once to warm up (JIT, connection pools, DynamoDB Local's JVM), then is measured.
    const raw = await receivers(load, 2);
    await baselineRawPosts(raw, MESSAGES, 'baseline A (raw POST, warm)');
    const rawRate = await baselineRawPosts(raw, MESSAGES * 2, 'baseline A (raw POST)');
    await baselinePutItem(stack, MESSAGES, 'warm');
    const putRate = await baselinePutItem(stack, MESSAGES * 2, 'measured');
    await load.send({ op: 'forget' });
    results.baselines = { rawSignedPostsPerSecond: rawRate, putItemPerSecond: putRate };

    // Cost first: it waits for the sweeper to check its messages, so no other run's checks land in its meter.
    const cost = SCENARIOS.has('cost') ? await costScenario(stack, load, usage) : undefined;
    const filters = SCENARIOS.has('filters') ? await filtersScenario(stack, load, usage) : undefined;
    const throughput = SCENARIOS.has('throughput') ? await throughputScenario(stack, load, chart) : undefined;
    const fan = SCENARIOS.has('fanout') ? await fanOutScenario(stack, load, chart) : undefined;
    const hanging = SCENARIOS.has('hanging') ? await hangingScenario(stack, load, chart) : undefined;
    if (SCENARIOS.has('flood')) await settle(stack, 'before the flood');
    const flood = SCENARIOS.has('flood') ? await floodScenario(stack, load, chart) : undefined;
    const replay = SCENARIOS.has('replay') ? await replayScenario(stack, load, usage) : undefined;
    Object.assign(results, { throughput, cost, filters, fanOut: fan, hanging, flood, replay });

    console.log('\n## Throughput and isolation (same run, same machine)\n');
    console.log('| measure | value | ratio | target |');
    console.log('|---|---:|---:|---:|');
    console.log(`| baseline A: signed POSTs straight to the receivers | ${rawRate.toFixed(0)}/s | 1.00 | |`);
    console.log(`| baseline B: DynamoDB Local PutItem, 16 in flight | ${putRate.toFixed(0)}/s | 1.00 | |`);
    if (throughput) {
      const t = throughput;
      console.log(
        `| deliveries, 2 endpoints | ${t.deliveriesPerSecond.toFixed(0)}/s | ${fmt(t.deliveriesPerSecond / putRate)} × B | ≥ 1.0 × B |`,
      );
      console.log(
        `| ingest while deliveries run | ${t.ingestPerSecond.toFixed(0)}/s | ${fmt(t.ingestPerSecond / putRate)} × B | ≥ 0.3 × B |`,
      );
      console.log(`| accept (POST /v1/messages), 2 endpoints | p50 ${t.acceptMs.p50} ms, p99 ${t.acceptMs.p99} ms | | |`);
      console.log(`| accept → receive, 2 endpoints | p50 ${t.latencyMs.p50} ms, p99 ${t.latencyMs.p99} ms | | |`);
    }
    if (fan) {
      console.log(`| fan-out: ingest | ${fan.ingestPerSecond.toFixed(0)}/s | | |`);
      console.log(`| fan-out: accept → receive | p50 ${fan.latencyMs.p50} ms, p99 ${fan.latencyMs.p99} ms | | |`);
      console.log(
        `| deliveries, 10 endpoints, end to end | ${fan.deliveriesPerSecond.toFixed(0)}/s | ${fmt(fan.deliveriesPerSecond / rawRate)} × A | ≥ 0.15 × A |`,
      );
    }
    if (hanging) {
      const h = hanging.healthyLatencyMs;
      console.log(`| healthy endpoint beside 3 hanging: accept → receive | p50 ${h.p50} ms, p99 ${h.p99} ms | | p99 ≤ 2000 ms |`);
    }
    if (flood) {
      console.log(
        `| quiet tenant during a flood: accept | p50 ${flood.quietAcceptMs.p50} ms, p99 ${flood.quietAcceptMs.p99} ms | | p99 ≤ 500 ms |`,
      );
      const q = flood.quietAcceptToReceiveMs;
      console.log(`| quiet tenant during a flood: accept → receive | p50 ${q.p50} ms, p99 ${q.p99} ms | | p99 ≤ 2000 ms |`);
      console.log(`| flooding tenant: accepted / refused with 429 | ${flood.flooderAccepted} / ${flood.flooderThrottled} | | |`);
    }

    if (cost) {
      const p = cost.perDelivery;
      console.log('\n## Per successful delivery (2 endpoints, first attempt succeeds)\n');
      console.log('| per delivery | measured | target |');
      console.log('|---|---:|---:|');
      console.log(`| DynamoDB requests | ${fmt(p.dynamodbRequests)} | ≤ 1.0 |`);
      console.log(`| DynamoDB write units (tables + indexes) | ${fmt(p.writeUnits)} | ≤ 4 (stretch ≤ 3) |`);
      console.log(`| DynamoDB read units | ${fmt(p.readUnits)} | ≤ 1 |`);
      console.log(`| SQS requests (send, receive, delete) | ${fmt(p.sqsRequests)} | ≤ 0.6 |`);
      console.log(`| Lambda invocations / GB-s | ${fmt(p.lambdaInvocations)} / ${fmt(p.lambdaGbSeconds, 4)} | |`);
      console.log(`| API requests | ${fmt(p.apiRequests)} | |`);
      console.log(`| log bytes (function lines + platform lines) | ${p.logBytes.toFixed(0)} | |`);
      console.log(
        `\nDynamoDB by command: ${Object.entries(p.dynamodbByCommand)
          .map(([c, v]) => `${c} ${fmt(v.requests)} req, ${fmt(v.writeUnits)} WU, ${fmt(v.readUnits)} RU`)
          .join('; ')}`,
      );
      console.log(
        `SQS by command: ${Object.entries(p.sqsByCommand)
          .map(([c, v]) => `${c} ${fmt(v)}`)
          .join('; ')} (empty receives: ${cost.usage.sqs.emptyReceives}; DynamoDB stream reads by Lambda are free and not counted)`,
      );
      console.log(
        `Lambda by function: ${Object.entries(p.lambdaByFunction)
          .map(([name, f]) => `${name} ${fmt(f.invocations, 3)} inv, ${fmt(f.gbSeconds, 4)} GB-s`)
          .join('; ')}`,
      );
      const d = cost.dollarsPerMillionDeliveries;
      console.log(`\n## Dollars per million deliveries (AWS list prices, ${awsPrices.region}, recorded ${awsPrices.recordedOn})\n`);
      console.log('| part | on-demand | provisioned |');
      console.log('|---|---:|---:|');
      console.log(`| DynamoDB | ${fmt(d.dynamodbOnDemand)} | ${fmt(d.dynamodbProvisioned)} |`);
      console.log(`| SQS | ${fmt(d.sqs)} | ${fmt(d.sqs)} |`);
      console.log(`| API Gateway HTTP API | ${fmt(d.apiGateway)} | ${fmt(d.apiGateway)} |`);
      console.log(`| Lambda (arm64 requests + GB-s) | ${fmt(d.lambda)} | ${fmt(d.lambda)} |`);
      console.log(`| CloudWatch Logs ingestion | ${fmt(d.cloudWatchLogs)} | ${fmt(d.cloudWatchLogs)} |`);
      console.log(`| **Sluice, total** | **${fmt(d.totalOnDemand)}** | **${fmt(d.totalProvisioned)}** |`);
      console.log(`| EventBridge API destinations (1 event, 1 invocation per target) | ${fmt(d.eventBridgeApiDestinations)} | |`);
    }
    if (filters) {
      const [none] = filters;
      console.log('\n## Filters: per message, 10 endpoints (sweeper check included)\n');
      console.log(
        '| variant | deliveries / message | DynamoDB requests | of them Query (per second, not per message) | write units | read units | SQS requests | target |',
      );
      console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
      for (const run of filters) {
        const p = run.perMessage;
        const target = run === none ? '' : run.deliveries === none?.deliveries ? 'requests = no filters' : 'fewer than no filters';
        console.log(
          `| ${run.variant} | ${run.deliveries / run.messages} | ${fmt(p.dynamodbRequests)} | ${fmt(p.queryRequests)} | ${fmt(p.writeUnits)} | ${fmt(p.readUnits)} | ${fmt(p.sqsRequests)} | ${target} |`,
        );
      }
    }
    if (replay) {
      const p = replay.perDelivery;
      const d = replay.dollarsPerMillionDeliveries;
      console.log('\n## Bulk replay: per replayed delivery (task steps included)\n');
      console.log('| measure | value |');
      console.log('|---|---:|');
      console.log(
        `| deliveries replayed | ${replay.deliveries} in ${fmt(replay.seconds)} s (${fmt(replay.perSecond)}/s; pace ${replay.pacePerSecond}/s) |`,
      );
      console.log(
        `| DynamoDB requests / write units / read units | ${fmt(p.dynamodbRequests)} / ${fmt(p.writeUnits)} / ${fmt(p.readUnits)} |`,
      );
      console.log(`| SQS requests | ${fmt(p.sqsRequests)} |`);
      console.log(`| $ per million replayed, on-demand / provisioned | ${fmt(d.totalOnDemand)} / ${fmt(d.totalProvisioned)} |`);
      console.log(
        `\nDynamoDB by command: ${Object.entries(p.dynamodbByCommand)
          .map(([c, v]) => `${c} ${fmt(v.requests)} req, ${fmt(v.writeUnits)} WU, ${fmt(v.readUnits)} RU`)
          .join('; ')}`,
      );
    }
    if (throughput) console.log(`\nDuplicate deliveries seen by the receivers (throughput run): ${throughput.duplicates}`);

    mkdirSync(OUT, { recursive: true });
    writeFileSync(path.join(OUT, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    const png = await renderChart(
      `Sluice bench ${new Date().toISOString().slice(0, 16)}Z — ${MESSAGES} messages, ${PAYLOAD_BYTES}-byte payloads`,
      chart.throughput,
      chart.latency,
    );
    writeFileSync(path.join(OUT, 'chart.png'), png);
    console.log(`\nWrote ${path.join(OUT, 'results.json')} and ${path.join(OUT, 'chart.png')}`);
  } finally {
    await stack.stop();
    await load.close();
    await apiAgent.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
