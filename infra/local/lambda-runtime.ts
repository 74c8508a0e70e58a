import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { currentUsageMeter } from '../../functions/lib/aws/usage-meter.ts';
import type { FunctionDescription } from '../description.ts';

export type LambdaHandler<E, R> = (event: E, context: Context) => Promise<R>;

/** Loads `functions/<name>.ts` exactly as `cdk deploy` bundles it: the module's `handler` export. */
export async function loadHandler<E, R>(name: string): Promise<LambdaHandler<E, R>> {
  const module = (await import(pathToFileURL(path.join(process.cwd(), 'functions', `${name}.ts`)).href)) as { handler?: unknown };
  if (typeof module.handler !== 'function') throw new Error(`functions/${name}.ts exports no handler`);
  return module.handler as LambdaHandler<E, R>;
}

/** A Lambda context as the runtime passes it, with a deadline from the function's timeout. */
export function lambdaContext(functionName: string, timeoutSeconds: number, memoryMb: number): Context {
  const deadline = Date.now() + timeoutSeconds * 1000;
  const requestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/${requestId}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * Runs one invocation as Lambda would (a fresh context with the function's deadline) and reports
 * its duration to the usage meter, when the bench installed one: Lambda bills GB-seconds of it.
 */
export async function invoke<E, R>(fn: FunctionDescription, handler: LambdaHandler<E, R>, event: E): Promise<R> {
  const started = performance.now();
  try {
    return await handler(event, lambdaContext(fn.name, fn.timeoutSeconds, fn.memoryMb));
  } finally {
    currentUsageMeter()?.invocation({ functionName: fn.name, memoryMb: fn.memoryMb, durationMs: performance.now() - started });
  }
}
