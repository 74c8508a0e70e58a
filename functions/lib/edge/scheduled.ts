/**
 * The scheduled edge: a middy chain for an EventBridge schedule (the local stack runs it on a
 * timer), with the same logger and tracing as the other edges. Metrics are published by the run.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { ScheduledEvent } from 'aws-lambda';
import { type Part, use } from '../container.ts';
import { logger, traceInvocations } from './observability.ts';

export function scheduledHandler<S, R>(service: Part<S>, run: (service: S) => Promise<R>) {
  return middy<ScheduledEvent, R>()
    .use(traceInvocations())
    .use(injectLambdaContext(logger))
    .handler(async () => run(await use(service)));
}
