/**
 * `npm run bench`: what a delivery costs and how fast the local platform moves, with the
 * baselines it is judged against measured in the same run on the same machine, so the figures
 * are ratios and counts, not claims.
 *
 *   baseline A   signed POSTs straight to the receivers with undici (the delivery ceiling)
 *   baseline B   DynamoDB Local PutItem, 16 in flight (the ledger's ceiling)
 *   cost         2 endpoints, 1 KiB payloads, an Idempotency-Key on every post, every attempt
 *                succeeding: every AWS call counted (DynamoDB capacity from the service's own
 *                ReturnConsumedCapacity), turned into dollars per million deliveries
 *   fan-out      10 endpoints, end to end
 *   hanging      4 endpoints, 3 of which never answer (10 s timeout): the healthy one's latency
 *   flood        one tenant floods ingest with 32 clients while a quiet tenant posts 10 a second
 *
 * Writes .bench/results.json and .bench/chart.png. Environment: BENCH_MESSAGES (default 1000),
 * BENCH_CONCURRENCY (default 16), BENCH_PAYLOAD_BYTES (default 1024), BENCH_SCENARIOS (comma
 * list, default all), BENCH_OUT (default .bench).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { Agent, request } from 'undici';
import { signatureHeader } from '../../functions/lib/core/signing.ts';
import { LocalStack } from '../../infra/local/local-stack.ts';
import { Receiver, type Responder, respondWith } from '../support/receiver.ts';
import { awsPrices } from './aws-prices.ts';
import { type LatencySample, renderChart, type ThroughputPoint } from './chart.ts';
import { realisticPayload } from './payload.ts';
import { BenchUsage, type UsageTotals } from './usage.ts';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const PAYLOAD_BYTES = Number(process.env.BENCH_PAYLOAD_BYTES ?? 1024);
const OUT = process.env.BENCH_OUT ?? '.bench';
const SCENARIOS = new Set((process.env.BENCH_SCENARIOS ?? 'cost,fanout,hanging,flood').split(','));

// ---------------------------------------------------------------------------------------------
// Small tools

function bar(label: string, done: number, total: number, startedMs: number): void {
  const width = 30;
  const filled = Math.round((Math.min(done, total) / total) * width);
  const rate = done / ((performance.now() - startedMs) / 1000 || 1);
  process.stderr.write(
    `\r  ${label.padEnd(26)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}  ${rate.toFixed(0)}/s   `,
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

interface ApiAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly ms: number;
}

const apiAgent = new Agent({ connections: 128, keepAliveTimeout: 30_000 });

async function api(apiUrl: string, key: string, method: string, route: string, body?: unknown, headers: Record<string, string> = {}) {
  const started = performance.now();
  const response = await request(`${apiUrl}${route}`, {
    method: method as 'GET',
    dispatcher: apiAgent,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  const answer: ApiAnswer = {
    status: response.statusCode,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    ms: performance.now() - started,
  };
  return answer;
}

async function must(answer: Promise<ApiAnswer>, what: string): Promise<Record<string, unknown>> {
  const result = await answer;
  if (result.status >= 300) throw new Error(`${what} → ${result.status} ${JSON.stringify(result.body)}`);
  return result.body;
}

interface Tenant {
  readonly id: string;
  readonly key: string;
}

async function tenant(stack: LocalStack, name: string, eventType: string): Promise<Tenant> {
  const created = await must(api(stack.apiUrl, stack.rootKey, 'POST', '/v1/tenants', { name }), 'create tenant');
  const key = String(created.apiKey);
  await must(
    api(stack.apiUrl, key, 'PUT', `/v1/event-types/${eventType}`, {
      schema: {
        type: 'object',
        required: ['sequence', 'lockId'],
        properties: { sequence: { type: 'integer' }, lockId: { type: 'string' } },
      },
    }),
    'event type',
  );
  return { id: String(created.id), key };
}

async function endpoint(stack: LocalStack, owner: Tenant, receiver: Receiver, eventType: string, extra: object = {}): Promise<string> {
  const created = await must(
    api(stack.apiUrl, owner.key, 'POST', '/v1/endpoints', { url: receiver.url, eventTypes: [eventType], ...extra }),
    'create endpoint',
  );
  return String(created.id);
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

function latencySummary(values: readonly number[]) {
  return {
    count: values.length,
    p50: Math.round(percentile(values, 50)),
    p95: Math.round(percentile(values, 95)),
    p99: Math.round(percentile(values, 99)),
    max: Math.round(Math.max(...values)),
  };
}

// ---------------------------------------------------------------------------------------------
// Baselines

async function baselineRawPosts(receivers: readonly Receiver[], total: number): Promise<number> {
  const agent = new Agent({ connections: 64 });
  const body = JSON.stringify({ id: 'msg_x', type: 'bench.event', data: realisticPayload(PAYLOAD_BYTES, 0) });
  const secret = [{ value: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', createdAt: '' }];
  let done = 0;
  const started = performance.now();
  await pool(
    Array.from({ length: total }, (_, i) => i),
    CONCURRENCY * 2,
    async (i) => {
      const target = receivers[i % receivers.length] as Receiver;
      const response = await request(target.url, {
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
      bar('baseline A (raw POST)', ++done, total, started);
    },
  );
  const rate = total / ((performance.now() - started) / 1000);
  await agent.close();
  for (const r of receivers) r.requests.length = 0;
  return rate;
}

async function baselinePutItem(stack: LocalStack, total: number, round: string): Promise<number> {
  const ddb = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: stack.dynamodb.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } }),
  );
  const body = JSON.stringify(realisticPayload(PAYLOAD_BYTES, 0));
  let done = 0;
  const started = performance.now();
  await pool(
    Array.from({ length: total }, (_, i) => i),
    16,
    async (i) => {
      await ddb.send(new PutCommand({ TableName: 'sluice-ledger', Item: { pk: `BENCH#${round}#${i}`, sk: 'BENCH', body } }));
      bar('baseline B (PutItem)', ++done, total, started);
    },
  );
  const rate = total / ((performance.now() - started) / 1000);
  ddb.destroy();
  return rate;
}

// ---------------------------------------------------------------------------------------------
// Scenarios

interface Flow {
  readonly postedAt: Map<string, number>;
  readonly acceptedAt: number[];
  readonly ingestSeconds: number;
  readonly rejected: number;
}

/** Posts `count` messages with `concurrency` clients; returns when every post was answered. */
async function postMessages(
  stack: LocalStack,
  owner: Tenant,
  eventType: string,
  count: number,
  concurrency: number,
  label: string,
): Promise<Flow> {
  const postedAt = new Map<string, number>();
  const acceptedAt: number[] = [];
  let rejected = 0;
  let done = 0;
  const started = performance.now();
  await pool(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    async (i) => {
      for (;;) {
        const sentAt = Date.now();
        const answer = await api(
          stack.apiUrl,
          owner.key,
          'POST',
          '/v1/messages',
          { type: eventType, payload: realisticPayload(PAYLOAD_BYTES, i) },
          { 'idempotency-key': `${label}-${owner.id}-${i}` },
        );
        if (answer.status === 202) {
          postedAt.set(String(answer.body.id), sentAt);
          acceptedAt.push(Date.now());
          break;
        }
        if (answer.status !== 429) throw new Error(`POST /v1/messages → ${answer.status} ${JSON.stringify(answer.body)}`);
        rejected++;
        await sleep(100);
      }
      bar(`${label}: ingest`, ++done, count, started);
    },
  );
  return { postedAt, acceptedAt, ingestSeconds: (performance.now() - started) / 1000, rejected };
}

async function waitForDeliveries(receivers: readonly Receiver[], total: number, label: string, timeoutMs = 600_000): Promise<void> {
  const started = performance.now();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const received = receivers.reduce((sum, r) => sum + new Set(r.requests.map((q) => q.headers['x-sluice-delivery-id'])).size, 0);
    bar(`${label}: delivered`, received, total, started);
    if (received >= total) return;
    if (Date.now() > deadline) throw new Error(`${label}: only ${received}/${total} deliveries after ${timeoutMs / 1000} s`);
    await sleep(200);
  }
}

function latencies(receivers: readonly Receiver[], postedAt: ReadonlyMap<string, number>): number[] {
  return receivers.flatMap((r) =>
    r.requests
      .filter((q) => q.headers['x-sluice-attempt'] === '1')
      .map((q) => q.receivedAt - (postedAt.get(q.headers['webhook-id'] ?? '') ?? q.receivedAt)),
  );
}

function duplicates(receivers: readonly Receiver[]): number {
  const all = receivers.flatMap((r) => r.requests.map((q) => `${q.headers['x-sluice-delivery-id']}#${q.headers['x-sluice-attempt']}`));
  return all.length - new Set(all).size;
}

interface CostResult {
  readonly messages: number;
  readonly deliveries: number;
  readonly ingestPerSecond: number;
  readonly deliveriesPerSecond: number;
  readonly latencyMs: ReturnType<typeof latencySummary>;
  readonly duplicates: number;
  readonly usage: UsageTotals;
  readonly perDelivery: PerDelivery;
  readonly dollarsPerMillionDeliveries: Dollars;
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

async function costScenario(stack: LocalStack, usage: BenchUsage, chart: ChartData): Promise<CostResult> {
  const ENDPOINTS = 2;
  console.log(`\ncost: ${MESSAGES} messages × ${ENDPOINTS} endpoints, ${PAYLOAD_BYTES}-byte payloads, Idempotency-Key on every post`);
  const owner = await tenant(stack, 'bench cost', 'lock.unlocked');
  const receivers = await Promise.all(Array.from({ length: ENDPOINTS }, () => Receiver.start()));
  try {
    for (const receiver of receivers) await endpoint(stack, owner, receiver, 'lock.unlocked');
    // Warm every function once (cold starts and caches are not what a delivery costs), then measure.
    await must(
      api(stack.apiUrl, owner.key, 'POST', '/v1/messages', { type: 'lock.unlocked', payload: realisticPayload(PAYLOAD_BYTES, -1) }),
      'warm-up',
    );
    await waitForDeliveries(receivers, ENDPOINTS, 'warm-up');
    for (const r of receivers) r.requests.length = 0;
    await sleep(500);
    usage.reset();
    const start = Date.now();
    const flow = await postMessages(stack, owner, 'lock.unlocked', MESSAGES, CONCURRENCY, 'cost');
    const total = MESSAGES * ENDPOINTS;
    await waitForDeliveries(receivers, total, 'cost');
    const end = Math.max(...receivers.flatMap((r) => r.requests.map((q) => q.receivedAt)));
    // Let the ledger writes behind the last deliveries land before reading the meter.
    await sleep(1500);
    const totals = usage.totals();
    const lat = latencies(receivers, flow.postedAt);
    chart.throughput.push(
      ...perSecond(flow.acceptedAt, start, 'cost (2 endpoints)', 'messages accepted'),
      ...perSecond(
        receivers.flatMap((r) => r.requests.map((q) => q.receivedAt)),
        start,
        'cost (2 endpoints)',
        'deliveries received',
      ),
    );
    chart.latency.push(...lat.map((ms) => ({ scenario: 'cost (2 endpoints)', ms })));
    const per = perDelivery(totals, total);
    return {
      messages: MESSAGES,
      deliveries: total,
      ingestPerSecond: MESSAGES / flow.ingestSeconds,
      deliveriesPerSecond: total / ((end - start) / 1000),
      latencyMs: latencySummary(lat),
      duplicates: duplicates(receivers),
      usage: totals,
      perDelivery: per,
      dollarsPerMillionDeliveries: dollars(per, ENDPOINTS),
    };
  } finally {
    await Promise.all(receivers.map((r) => r.close()));
  }
}

async function fanOutScenario(stack: LocalStack, chart: ChartData) {
  const ENDPOINTS = 10;
  const messages = Math.max(20, Math.round(MESSAGES / 5));
  console.log(`\nfan-out: ${messages} messages × ${ENDPOINTS} endpoints`);
  const owner = await tenant(stack, 'bench fan-out', 'lock.unlocked');
  const receivers = await Promise.all(Array.from({ length: ENDPOINTS }, () => Receiver.start()));
  try {
    for (const receiver of receivers) await endpoint(stack, owner, receiver, 'lock.unlocked');
    const start = Date.now();
    const flow = await postMessages(stack, owner, 'lock.unlocked', messages, CONCURRENCY, 'fan-out');
    const total = messages * ENDPOINTS;
    await waitForDeliveries(receivers, total, 'fan-out');
    const end = Math.max(...receivers.flatMap((r) => r.requests.map((q) => q.receivedAt)));
    const lat = latencies(receivers, flow.postedAt);
    chart.throughput.push(
      ...perSecond(
        receivers.flatMap((r) => r.requests.map((q) => q.receivedAt)),
        start,
        'fan-out (10 endpoints)',
        'deliveries received',
      ),
    );
    chart.latency.push(...lat.map((ms) => ({ scenario: 'fan-out (10 endpoints)', ms })));
    return {
      messages,
      deliveries: total,
      deliveriesPerSecond: total / ((end - start) / 1000),
      latencyMs: latencySummary(lat),
      duplicates: duplicates(receivers),
    };
  } finally {
    await Promise.all(receivers.map((r) => r.close()));
  }
}

/** Holds every request open: an endpoint that hangs until Sluice's timeout. */
const hang: Responder = () => new Promise(() => undefined);

async function hangingScenario(stack: LocalStack, chart: ChartData) {
  const messages = 200;
  const perSecondRate = 20;
  console.log(`\nhanging: 3 of 4 endpoints never answer (10 s timeout); ${messages} messages at ${perSecondRate}/s`);
  const owner = await tenant(stack, 'bench hanging', 'lock.unlocked');
  const healthy = await Receiver.start();
  const hanging = await Promise.all(Array.from({ length: 3 }, () => Receiver.start(hang)));
  const hangingIds: string[] = [];
  try {
    await endpoint(stack, owner, healthy, 'lock.unlocked');
    for (const receiver of hanging) hangingIds.push(await endpoint(stack, owner, receiver, 'lock.unlocked', { timeoutMs: 10_000 }));
    const postedAt = new Map<string, number>();
    const started = performance.now();
    const start = Date.now();
    for (let i = 0; i < messages; i++) {
      const due = start + (i * 1000) / perSecondRate;
      if (due > Date.now()) await sleep(due - Date.now());
      void api(stack.apiUrl, owner.key, 'POST', '/v1/messages', {
        type: 'lock.unlocked',
        payload: realisticPayload(PAYLOAD_BYTES, i),
      }).then((answer) => {
        if (answer.status === 202) postedAt.set(String(answer.body.id), Date.now() - answer.ms);
      });
      bar('hanging: ingest', i + 1, messages, started);
    }
    await waitForDeliveries([healthy], messages, 'hanging: healthy endpoint', 120_000);
    const lat = latencies([healthy], postedAt);
    chart.latency.push(...lat.map((ms) => ({ scenario: 'healthy beside 3 hanging', ms })));
    return { messages, healthyLatencyMs: latencySummary(lat) };
  } finally {
    // Stop the hanging endpoints' retries so they do not weigh on the next scenario.
    for (const id of hangingIds) await api(stack.apiUrl, owner.key, 'PATCH', `/v1/endpoints/${id}`, { disabled: true });
    await Promise.all([healthy, ...hanging].map((r) => r.close()));
  }
}

async function floodScenario(stack: LocalStack, chart: ChartData) {
  const seconds = 15;
  const quietRate = 10;
  console.log(`\nflood: one tenant posts with 32 clients for ${seconds} s; a quiet tenant posts ${quietRate}/s`);
  const flooder = await tenant(stack, 'bench flooder', 'lock.unlocked');
  const quiet = await tenant(stack, 'bench quiet', 'lock.unlocked');
  const floodReceiver = await Receiver.start();
  const quietReceiver = await Receiver.start();
  try {
    await endpoint(stack, flooder, floodReceiver, 'lock.unlocked');
    await endpoint(stack, quiet, quietReceiver, 'lock.unlocked');
    const stopAt = Date.now() + seconds * 1000;
    let flooded = 0;
    let throttled = 0;
    const flood = Promise.all(
      Array.from({ length: 32 }, async () => {
        while (Date.now() < stopAt) {
          const answer = await api(stack.apiUrl, flooder.key, 'POST', '/v1/messages', {
            type: 'lock.unlocked',
            payload: realisticPayload(PAYLOAD_BYTES, flooded),
          });
          if (answer.status === 202) flooded++;
          else if (answer.status === 429) {
            throttled++;
            const retryAfter = Number(answer.body.retryAfterSeconds ?? 0.1);
            await sleep(Math.min(1000, retryAfter * 1000));
          } else throw new Error(`flood POST → ${answer.status} ${JSON.stringify(answer.body)}`);
        }
      }),
    );
    const postedAt = new Map<string, number>();
    const acceptMs: number[] = [];
    const start = Date.now();
    const started = performance.now();
    const quietTotal = seconds * quietRate;
    for (let i = 0; i < quietTotal; i++) {
      const due = start + (i * 1000) / quietRate;
      if (due > Date.now()) await sleep(due - Date.now());
      void api(stack.apiUrl, quiet.key, 'POST', '/v1/messages', {
        type: 'lock.unlocked',
        payload: realisticPayload(PAYLOAD_BYTES, i),
      }).then((answer) => {
        if (answer.status !== 202) throw new Error(`quiet POST → ${answer.status}`);
        postedAt.set(String(answer.body.id), Date.now() - answer.ms);
        acceptMs.push(answer.ms);
      });
      bar('flood: quiet tenant', i + 1, quietTotal, started);
    }
    await flood;
    await waitForDeliveries([quietReceiver], quietTotal, 'flood: quiet delivered', 300_000);
    const lat = latencies([quietReceiver], postedAt);
    chart.latency.push(...lat.map((ms) => ({ scenario: 'quiet tenant during a flood', ms })));
    chart.throughput.push(
      ...perSecond(
        floodReceiver.requests.map((q) => q.receivedAt),
        start,
        'flood',
        'flooder deliveries',
      ),
      ...perSecond(
        quietReceiver.requests.map((q) => q.receivedAt),
        start,
        'flood',
        'quiet deliveries',
      ),
    );
    return {
      seconds,
      flooderAccepted: flooded,
      flooderThrottled: throttled,
      quietAcceptMs: latencySummary(acceptMs),
      quietAcceptToReceiveMs: latencySummary(lat),
    };
  } finally {
    await Promise.all([floodReceiver, quietReceiver].map((r) => r.close()));
  }
}

// ---------------------------------------------------------------------------------------------

interface ChartData {
  readonly throughput: ThroughputPoint[];
  readonly latency: LatencySample[];
}

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

async function main(): Promise<void> {
  console.log(`Sluice bench: ${MESSAGES} messages, ${CONCURRENCY} clients, ${PAYLOAD_BYTES}-byte payloads`);
  const usage = BenchUsage.install();
  const stack = await LocalStack.start({
    dataDir: ':memory:',
    port: 0,
    host: '127.0.0.1',
    concurrency: { deliver: 4, 'deliver-retries': 4, 'fan-out': 2 },
    progress: (line) => process.stderr.write(`${line}\n`),
    onRequest: () => usage.apiRequest(),
    // Production defaults: INFO delivery log and EMF metrics, both counted as CloudWatch Logs bytes.
    env: { POWERTOOLS_LOG_LEVEL: 'INFO' },
  });
  const chart: ChartData = { throughput: [], latency: [] };
  const results: Record<string, unknown> = { recordedAt: new Date().toISOString(), messages: MESSAGES, payloadBytes: PAYLOAD_BYTES };
  try {
    const receivers = await Promise.all([Receiver.start(respondWith(200, 'ok')), Receiver.start(respondWith(200, 'ok'))]);
    // Each baseline runs once to warm up (JIT, connection pools, DynamoDB Local's JVM), then is measured.
    await baselineRawPosts(receivers, MESSAGES);
    const rawRate = await baselineRawPosts(receivers, MESSAGES * 2);
    await Promise.all(receivers.map((r) => r.close()));
    await baselinePutItem(stack, MESSAGES, 'warm');
    const putRate = await baselinePutItem(stack, MESSAGES, 'measured');
    results.baselines = { rawSignedPostsPerSecond: rawRate, putItemPerSecond: putRate };

    const cost = SCENARIOS.has('cost') ? await costScenario(stack, usage, chart) : undefined;
    const fan = SCENARIOS.has('fanout') ? await fanOutScenario(stack, chart) : undefined;
    const hanging = SCENARIOS.has('hanging') ? await hangingScenario(stack, chart) : undefined;
    const flood = SCENARIOS.has('flood') ? await floodScenario(stack, chart) : undefined;
    Object.assign(results, { cost, fanOut: fan, hanging, flood });

    console.log('\n## Throughput and isolation (same run, same machine)\n');
    console.log('| measure | value | ratio | target |');
    console.log('|---|---:|---:|---:|');
    console.log(`| baseline A: signed POSTs straight to the receivers | ${rawRate.toFixed(0)}/s | 1.00 | |`);
    console.log(`| baseline B: DynamoDB Local PutItem, 16 in flight | ${putRate.toFixed(0)}/s | 1.00 | |`);
    if (cost) {
      console.log(
        `| deliveries, 2 endpoints | ${cost.deliveriesPerSecond.toFixed(0)}/s | ${fmt(cost.deliveriesPerSecond / putRate)} × B | ≥ 1.0 × B |`,
      );
      console.log(
        `| ingest while deliveries run | ${cost.ingestPerSecond.toFixed(0)}/s | ${fmt(cost.ingestPerSecond / putRate)} × B | ≥ 0.3 × B |`,
      );
      console.log(`| accept → receive, 2 endpoints | p50 ${cost.latencyMs.p50} ms, p99 ${cost.latencyMs.p99} ms | | |`);
    }
    if (fan) {
      console.log(
        `| deliveries, 10 endpoints, end to end | ${fan.deliveriesPerSecond.toFixed(0)}/s | ${fmt(fan.deliveriesPerSecond / rawRate)} × A | ≥ 0.15 × A |`,
      );
    }
    if (hanging)
      console.log(
        `| healthy endpoint beside 3 hanging: accept → receive | p50 ${hanging.healthyLatencyMs.p50} ms, p99 ${hanging.healthyLatencyMs.p99} ms | | p99 ≤ 2000 ms |`,
      );
    if (flood) {
      console.log(
        `| quiet tenant during a flood: accept | p50 ${flood.quietAcceptMs.p50} ms, p99 ${flood.quietAcceptMs.p99} ms | | p99 ≤ 500 ms |`,
      );
      console.log(
        `| quiet tenant during a flood: accept → receive | p50 ${flood.quietAcceptToReceiveMs.p50} ms, p99 ${flood.quietAcceptToReceiveMs.p99} ms | | p99 ≤ 2000 ms |`,
      );
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
          .join('; ')} (empty receives: ${cost.usage.sqs.emptyReceives})`,
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
      console.log(`\nDuplicate deliveries seen by the receivers: ${cost.duplicates}`);
    }

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
