/**
 * `npm start`: the whole Sluice platform on this machine. See README "Run it locally".
 */

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as z from 'zod';
import { CorsOrigins } from '../../functions/lib/api/route-spec.ts';
import { LocalStackError } from './dynamodb-local.ts';
import { loadExamples } from './examples.ts';
import { IN_MEMORY, LocalStack } from './local-stack.ts';

const usage = `Usage: npm start [-- --with-examples] [-- --quiet]

Environment:
  PORT               API port (default 3000; 0 = any free port)
  HOST               interface to bind (default 127.0.0.1)
  SLUICE_DATA_DIR    where state persists (default ./.sluice; ":memory:" keeps nothing)
  SLUICE_ROOT_KEY    root key to use (default: generated once and kept in the data dir)
  SLUICE_ALLOW_PRIVATE=1  let endpoints target private-range addresses
  SLUICE_CORS_ORIGINS  browser origins allowed to call the API, comma-separated (default: none)
  SLUICE_MAX_CONCURRENCY_DELIVER / _RETRIES  most invocations at once per queue (default: the
                     consumer's maxConcurrency in infra/description.ts, as in AWS)
  SLUICE_SWEEP_INTERVAL_SECONDS  how often the sweeper runs (default 60, as in AWS)
  SLUICE_SWEEP_GRACE_SECONDS     how overdue work must be before it is re-enqueued (default 120)
  SLUICE_TENANT_INGEST_PER_SECOND  messages a second per tenant without its own rate (default 100; 0 = no limit)
  SLUICE_CACHE_SECONDS           how long keys, event types, endpoints and tenants are cached (default 5)
  SLUICE_LOCAL_METRICS=1  print CloudWatch EMF metric lines too
`;

const env = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().default('127.0.0.1'),
    SLUICE_DATA_DIR: z.string().default('./.sluice'),
    SLUICE_ROOT_KEY: z.string().min(16, 'SLUICE_ROOT_KEY must be at least 16 characters').optional(),
    SLUICE_ALLOW_PRIVATE: z.enum(['0', '1']).optional(),
    SLUICE_CORS_ORIGINS: CorsOrigins,
    SLUICE_MAX_CONCURRENCY_DELIVER: z.coerce.number().int().min(1).max(1000).optional(),
    SLUICE_MAX_CONCURRENCY_RETRIES: z.coerce.number().int().min(1).max(1000).optional(),
    SLUICE_SWEEP_INTERVAL_SECONDS: z.coerce.number().min(0.1).max(3600).default(60),
    SLUICE_LOCAL_METRICS: z.enum(['0', '1']).default('0'),
    SLUICE_READY_FILE: z.string().optional(),
  })
  .safeParse(process.env);

async function main(): Promise<void> {
  const args = new Set(process.argv.slice(2));
  if (args.has('--help') || args.has('-h')) {
    process.stdout.write(usage);
    return;
  }
  if (!env.success) {
    process.stderr.write(`${env.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n')}\n\n${usage}`);
    process.exit(2);
  }
  const config = env.data;
  const quiet = args.has('--quiet');
  const progress = (line: string) => process.stdout.write(`${line}\n`);

  const stack = await LocalStack.start({
    dataDir: config.SLUICE_DATA_DIR,
    port: config.PORT,
    host: config.HOST,
    ...(config.SLUICE_ROOT_KEY && { rootKey: config.SLUICE_ROOT_KEY }),
    maxConcurrency: {
      ...(config.SLUICE_MAX_CONCURRENCY_DELIVER && { deliver: config.SLUICE_MAX_CONCURRENCY_DELIVER }),
      ...(config.SLUICE_MAX_CONCURRENCY_RETRIES && { 'deliver-retries': config.SLUICE_MAX_CONCURRENCY_RETRIES }),
    },
    sweepIntervalSeconds: config.SLUICE_SWEEP_INTERVAL_SECONDS,
    corsOrigins: config.SLUICE_CORS_ORIGINS,
    progress,
    ...(!quiet && { onRequest: (r) => progress(`  ${r.method} ${r.path} → ${r.status} (${r.ms} ms)`) }),
    env: {
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? (quiet ? 'WARN' : 'INFO'),
      ...(config.SLUICE_LOCAL_METRICS === '0' && { POWERTOOLS_METRICS_DISABLED: 'true' }),
      ...(config.SLUICE_ALLOW_PRIVATE && { SLUICE_ALLOW_PRIVATE: config.SLUICE_ALLOW_PRIVATE }),
    },
  });

  const dataDir = config.SLUICE_DATA_DIR === IN_MEMORY ? undefined : path.resolve(config.SLUICE_DATA_DIR);
  const examples = args.has('--with-examples') ? await loadExamples(stack.apiUrl, stack.rootKey, dataDir) : undefined;

  const url = stack.apiUrl;
  progress('');
  progress(`Sluice is running at ${url}  (health: ${url}/health, API document: ${url}/v1/openapi.json)`);
  progress(`Root key: ${stack.rootKey}`);
  if (examples) progress(`Example tenant ${examples.tenantId} with ${examples.eventTypes} event types; its admin key: ${examples.apiKey}`);
  progress('Try it:');
  progress(`  export SLUICE=${url} ROOT_KEY=${stack.rootKey}`);
  progress(
    `  curl -s -X POST $SLUICE/v1/tenants -H "authorization: Bearer $ROOT_KEY" -H 'content-type: application/json' -d '{"name":"Acme"}'`,
  );
  progress('  (the README tour goes on from there: event type, endpoint, message, history)');
  progress(`Portal: ${url}/portal, signed in by a link: SLUICE_KEY=<an admin key> npm run sluice -- portal --capability manage`);
  progress('Press Ctrl-C to stop.');

  if (config.SLUICE_READY_FILE) {
    writeFileSync(
      config.SLUICE_READY_FILE,
      JSON.stringify({
        pid: process.pid,
        apiUrl: url,
        rootKey: stack.rootKey,
        dynamodbEndpoint: stack.dynamodb.endpoint,
        sqsEndpoint: stack.sqsEndpoint,
        pids: stack.pids,
        queues: stack.queues,
        ...(examples && { examples }),
      }),
    );
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      progress('Stopping now.');
      process.exit(130);
    }
    stopping = true;
    progress(`\n${signal}: stopping pollers (attempts in flight finish or return to their queue)…`);
    stack
      .stop()
      .then(() => {
        progress('Stopped. Nothing accepted is lost: it waits in the data dir for the next start.');
        process.exit(0);
      })
      .catch((error: unknown) => {
        process.stderr.write(`error while stopping: ${String(error)}\n`);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  if (error instanceof LocalStackError || (error instanceof Error && /port .* is in use/.test(error.message))) {
    process.stderr.write(`\nSluice could not start: ${error.message}\n`);
  } else {
    process.stderr.write(`\nSluice could not start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exit(1);
});
