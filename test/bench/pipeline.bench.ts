/**
 * `npm run bench`: end-to-end throughput of the local platform, with the baselines it is judged
 * against measured in the same run on the same machine, so the figures are ratios, not claims.
 *
 *   baseline A  signed POSTs straight to the receiver with undici (the delivery ceiling)
 *   baseline B  DynamoDB Local PutItem, 16 in flight (the ledger's ceiling)
 *   pipeline    POST /v1/messages → fan-out → signed delivery to 2 endpoints → ledger
 *
 * Options (environment): BENCH_MESSAGES (default 1000), BENCH_CONCURRENCY (default 16).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { Agent, request } from 'undici';
import { signatureHeader } from '../../functions/lib/core/signing.ts';
import { LocalStack } from '../../infra/local/local-stack.ts';
import { Receiver } from '../support/receiver.ts';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ENDPOINTS = 2;

function bar(label: string, done: number, total: number, startedMs: number): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  const rate = done / ((performance.now() - startedMs) / 1000 || 1);
  process.stdout.write(
    `\r  ${label.padEnd(22)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}  ${rate.toFixed(0)}/s   `,
  );
  if (done === total) process.stdout.write('\n');
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

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function api(apiUrl: string, key: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function main(): Promise<void> {
  console.log(`Sluice pipeline benchmark: ${MESSAGES} messages × ${ENDPOINTS} endpoints, ${CONCURRENCY} clients in flight\n`);
  const stack = await LocalStack.start({
    dataDir: ':memory:',
    port: 0,
    host: '127.0.0.1',
    concurrency: { deliver: 4, 'fan-out': 2 },
    progress: (line) => console.log(line),
    env: { POWERTOOLS_LOG_LEVEL: 'ERROR', POWERTOOLS_METRICS_DISABLED: 'true' },
  });
  const receivers = await Promise.all(Array.from({ length: ENDPOINTS }, () => Receiver.start()));
  try {
    // Baseline A: what the same receivers absorb from signed undici POSTs, no Sluice in between.
    const agent = new Agent({ connections: 64 });
    const body = JSON.stringify({ id: 'msg_x', type: 'bench.event', data: { n: 1, text: 'x'.repeat(200) } });
    const secret = [{ value: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', createdAt: '' }];
    const rawTotal = MESSAGES * ENDPOINTS;
    let rawDone = 0;
    const rawStarted = performance.now();
    await pool(
      Array.from({ length: rawTotal }, (_, i) => i),
      CONCURRENCY * 2,
      async (i) => {
        const now = new Date();
        const target = receivers[i % ENDPOINTS] as Receiver;
        const response = await request(target.url, {
          method: 'POST',
          dispatcher: agent,
          body,
          headers: {
            'content-type': 'application/json',
            'webhook-id': 'msg_x',
            'webhook-signature': signatureHeader(secret, 'msg_x', now, body),
          },
        });
        await response.body.dump();
        bar('baseline A (raw POST)', ++rawDone, rawTotal, rawStarted);
      },
    );
    const rawSeconds = (performance.now() - rawStarted) / 1000;
    await agent.close();
    for (const r of receivers) r.requests.length = 0;

    // Baseline B: ledger writes straight to DynamoDB Local.
    const ddb = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: stack.dynamodb.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      }),
    );
    let putDone = 0;
    const putStarted = performance.now();
    await pool(
      Array.from({ length: MESSAGES }, (_, i) => i),
      16,
      async (i) => {
        await ddb.send(new PutCommand({ TableName: 'sluice-ledger', Item: { pk: `BENCH#${i}`, sk: 'BENCH', body } }));
        bar('baseline B (PutItem)', ++putDone, MESSAGES, putStarted);
      },
    );
    const putSeconds = (performance.now() - putStarted) / 1000;
    ddb.destroy();

    // The pipeline.
    const tenant = await api(stack.apiUrl, stack.rootKey, 'POST', '/v1/tenants', { name: 'bench' });
    const key = String(tenant.apiKey);
    await api(stack.apiUrl, key, 'PUT', '/v1/event-types/bench.event', { schema: { type: 'object', required: ['n'] } });
    for (const receiver of receivers)
      await api(stack.apiUrl, key, 'POST', '/v1/endpoints', { url: receiver.url, eventTypes: ['bench.event'] });
    const postedAt = new Map<string, number>();
    let posted = 0;
    const started = performance.now();
    await pool(
      Array.from({ length: MESSAGES }, (_, i) => i),
      CONCURRENCY,
      async (i) => {
        const sentAt = Date.now();
        const message = await api(stack.apiUrl, key, 'POST', '/v1/messages', {
          type: 'bench.event',
          payload: { n: i, text: 'x'.repeat(200) },
        });
        postedAt.set(String(message.id), sentAt);
        bar('ingest (POST)', ++posted, MESSAGES, started);
      },
    );
    const ingestSeconds = (performance.now() - started) / 1000;
    const total = MESSAGES * ENDPOINTS;
    const deadline = Date.now() + 600_000;
    let received = 0;
    while (received < total) {
      received = receivers.reduce((sum, r) => sum + r.requests.length, 0);
      bar('delivered', Math.min(received, total), total, started);
      if (Date.now() > deadline) throw new Error(`only ${received}/${total} deliveries after 10 minutes`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const pipelineSeconds =
      (Math.max(...receivers.flatMap((r) => r.requests.map((q) => q.receivedAt))) - (Date.now() - (performance.now() - started))) / 1000;
    const latencies = receivers.flatMap((r) =>
      r.requests.map((q) => q.receivedAt - (postedAt.get(q.headers['webhook-id'] ?? '') ?? q.receivedAt)),
    );
    const duplicates = total - new Set(receivers.flatMap((r) => r.requests.map((q) => q.headers['x-sluice-delivery-id']))).size;

    const rawRate = rawTotal / rawSeconds;
    const putRate = MESSAGES / putSeconds;
    const inRate = MESSAGES / ingestSeconds;
    const outRate = total / pipelineSeconds;
    console.log('\n| measure | per second | ratio |');
    console.log('|---|---:|---:|');
    console.log(`| baseline A: signed POSTs straight to the receivers | ${rawRate.toFixed(0)} | 1.00 |`);
    console.log(`| baseline B: DynamoDB Local PutItem (16 in flight) | ${putRate.toFixed(0)} | 1.00 |`);
    console.log(
      `| messages in (POST /v1/messages, ${CONCURRENCY} clients) | ${inRate.toFixed(0)} | ${(inRate / putRate).toFixed(3)} × B |`,
    );
    console.log(`| deliveries out (signed, recorded) | ${outRate.toFixed(0)} | ${(outRate / rawRate).toFixed(3)} × A |`);
    console.log(
      `\nEnd-to-end latency, post → receiver: p50 ${percentile(latencies, 50)} ms, p95 ${percentile(latencies, 95)} ms, p99 ${percentile(latencies, 99)} ms`,
    );
    console.log(`Duplicate deliveries seen by the receivers: ${duplicates}`);
  } finally {
    await Promise.all(receivers.map((r) => r.close()));
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
