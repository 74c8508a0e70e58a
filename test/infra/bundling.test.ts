/**
 * What a function's bundle holds, built as the stack builds it (infra/bundling.ts): only what its
 * entry reaches through the container's parts, and the tracer only where tracing is deployed.
 */
import { build } from 'esbuild';
import { esbuildOptionsFor } from '#infra/bundling';
import { tracingEnvironment } from '#infra/constructs/tracing';

async function inputsOf(name: string, environment: Record<string, string> = {}): Promise<string[]> {
  const bundled = await build({
    ...esbuildOptionsFor(name, environment),
    outfile: 'bundle.mjs',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  // What ends up in the bundle: a module esbuild parsed but shook out entirely contributes no bytes.
  const output = Object.values(bundled.metafile.outputs).find((out) => out.entryPoint !== undefined);
  return Object.entries(output?.inputs ?? {})
    .filter(([, contribution]) => contribution.bytesInOutput > 0)
    .map(([input]) => input);
}

const tracer = /node_modules\/(@aws-lambda-powertools\/tracer|aws-xray-sdk-core)\//;
const validator = /node_modules\/(ajv|re2js)\/|functions\/lib\/schema\//;
const sender = /functions\/lib\/http\/node-http-sender\.ts/;
const idempotency = /node_modules\/@aws-lambda-powertools\/idempotency\//;

describe('function bundles', () => {
  test('without tracing deployed, no bundle carries the tracer or the X-Ray SDK; with it, the bundle does', async () => {
    expect((await inputsOf('deliver')).filter((input) => tracer.test(input))).toEqual([]);
    expect((await inputsOf('deliver', { ...tracingEnvironment })).some((input) => tracer.test(input))).toBe(true);
  }, 60_000);

  test('the delivery consumer carries the HTTP sender and no JSON Schema validator', async () => {
    const inputs = await inputsOf('deliver');
    expect(inputs.some((input) => sender.test(input))).toBe(true);
    expect(inputs.filter((input) => validator.test(input))).toEqual([]);
  }, 60_000);

  test('ingest carries the validator and no sender; a read route neither', async () => {
    const ingest = await inputsOf('create-message');
    expect(ingest.some((input) => validator.test(input))).toBe(true);
    expect(ingest.filter((input) => sender.test(input))).toEqual([]);
    for (const name of ['list-messages', 'get-event-type', 'list-tenants']) {
      const inputs = await inputsOf(name);
      expect({ name, heavy: inputs.filter((input) => validator.test(input) || sender.test(input)) }).toEqual({ name, heavy: [] });
    }
  }, 60_000);

  test('the OpenAPI document carries no store of its own, only what the HTTP edge declares for every route', async () => {
    const inputs = await inputsOf('get-openapi');
    // Authentication (the API-key store) and idempotency are in every HTTP bundle; this public route never builds them.
    expect(inputs.filter((input) => /functions\/lib\/aws\/dynamo-/.test(input))).toEqual(['functions/lib/aws/dynamo-access-stores.ts']);
    expect(inputs.some((input) => idempotency.test(input))).toBe(true);
  }, 60_000);

  test("the operational events' catalog schemas are only where the catalog is read; the delivery path knows their names alone", async () => {
    const catalog = /functions\/lib\/core\/operational-event-catalog\.ts/;
    expect((await inputsOf('get-event-type')).some((input) => catalog.test(input))).toBe(true);
    for (const name of ['deliver', 'test-endpoint', 'create-endpoint']) {
      expect({ name, catalog: (await inputsOf(name)).filter((input) => catalog.test(input)) }).toEqual({ name, catalog: [] });
    }
  }, 60_000);
});
