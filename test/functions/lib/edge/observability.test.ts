/**
 * The tracer (functions/lib/edge/observability.ts): off unless the stack turns it on, and then not
 * even loaded, so the default path pays nothing for X-Ray; on, every AWS client Sluice builds is traced.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { dynamoClient, secretsClient, sqsClient } from '../../../../functions/lib/aws/clients.ts';
import type { HttpEvent } from '../../../../functions/lib/edge/answers.ts';
import { annotateTrace, loadTracer, traceInvocations, tracingEnabled } from '../../../../functions/lib/edge/observability.ts';
import { handler } from '../../../../functions/no-route.ts';
import { noRouteEnvironment } from '../../../../infra/description.ts';

const root = path.resolve(__dirname, '../../../..');
const xrayMiddleware = 'XRaySDKInstrumentation';

/** The names of a client's SDK middleware. */
function middlewareOf(client: { middlewareStack: { identify(): string[] } }): string {
  return client.middlewareStack.identify().join(' ');
}

describe('tracing off (the default)', () => {
  beforeAll(() => Object.assign(process.env, noRouteEnvironment));

  test('the tracer is disabled and never loaded: no middleware, no client instrumentation, no X-Ray SDK in the process', async () => {
    expect(process.env.POWERTOOLS_TRACE_ENABLED).toBeUndefined();
    expect(tracingEnabled).toBe(false);
    expect(traceInvocations()).toEqual([]);
    await expect(loadTracer()).resolves.toBeUndefined();
    expect(() => annotateTrace({ tenantId: 'ten_1' })).not.toThrow();

    const result = await handler(
      {
        rawPath: '/x',
        headers: {},
        requestContext: { requestId: 'r-1', http: { method: 'GET', path: '/x', sourceIp: '203.0.113.7' } },
      } as unknown as HttpEvent,
      { functionName: 'no-route', awsRequestId: 'i-1' } as unknown as Context,
    );
    expect(result).toMatchObject({ statusCode: 404 });

    for (const client of [
      dynamoClient({ region: 'eu-west-1' }),
      sqsClient({ region: 'eu-west-1' }),
      secretsClient({ region: 'eu-west-1' }),
    ]) {
      expect(middlewareOf(client)).not.toContain(xrayMiddleware);
    }
    // cls-hooked, which the X-Ray SDK loads, registers its namespaces (and an async hook) on `process`.
    expect((process as { namespaces?: unknown }).namespaces).toBeUndefined();
  });

  test('a client given a tracer is wrapped by it', () => {
    const wrapped: string[] = [];
    const tracer = {
      captureAWSv3Client: <T>(client: T): T => {
        wrapped.push((client as { constructor: { name: string } }).constructor.name);
        return client;
      },
    };
    dynamoClient({ region: 'eu-west-1', tracer });
    sqsClient({ region: 'eu-west-1', tracer });
    secretsClient({ region: 'eu-west-1', tracer });
    expect(wrapped).toEqual(['DynamoDBClient', 'SQSClient', 'SecretsManagerClient']);
  });
});

describe('tracing on', () => {
  // In a child process: loading the X-Ray SDK adds an async hook to the whole process, which the
  // other tests of this jest worker should not inherit.
  test('POWERTOOLS_TRACE_ENABLED=true in Lambda: the tracer loads, the chains get its middleware, the clients are traced', async () => {
    const module = (file: string) => JSON.stringify(pathToFileURL(path.join(root, file)).href);
    const script = [
      `const { loadTracer, traceInvocations, tracingEnabled } = await import(${module('functions/lib/edge/observability.ts')});`,
      `const { dynamoClient, sqsClient } = await import(${module('functions/lib/aws/clients.ts')});`,
      'const tracer = await loadTracer();',
      "const names = (client) => client.middlewareStack.identify().join(' ');",
      'process.stdout.write(JSON.stringify({',
      '  tracingEnabled,',
      '  tracerEnabled: tracer?.isTracingEnabled(),',
      '  middleware: traceInvocations().length,',
      "  dynamo: names(dynamoClient({ region: 'eu-west-1', tracer })),",
      "  sqs: names(sqsClient({ region: 'eu-west-1', tracer })),",
      '}));',
    ].join('\n');
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: root,
        env: { ...process.env, POWERTOOLS_TRACE_ENABLED: 'true', AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' },
      });
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(stdout);
        else reject(new Error(`exit ${code}: ${stderr}`));
      });
    });
    const report = JSON.parse(output) as Record<string, unknown>;
    expect(report).toMatchObject({ tracingEnabled: true, tracerEnabled: true, middleware: 1 });
    expect(report.dynamo).toContain(xrayMiddleware);
    expect(report.sqs).toContain(xrayMiddleware);
  }, 40_000);
});
