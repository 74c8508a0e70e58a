/**
 * The ledger-stream edge: a middy chain for DynamoDB stream batches. A batch succeeds or fails
 * as a whole (the work is idempotent); Lambda retries a failed one, halving it on each retry
 * (`bisectBatchOnError`), so a poison record ends on the failure queue without holding up the rest.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { type Part, use } from '../container.ts';
import { logger, metrics, traceInvocations } from './observability.ts';

const publishMetrics: MiddlewareObj<DynamoDBStreamEvent, DynamoDBBatchResponse> = {
  after: async () => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  },
  onError: async () => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  },
};

export function streamConsumer<S>(service: Part<S>, run: (records: readonly DynamoDBRecord[], service: S) => Promise<void>) {
  return middy<DynamoDBStreamEvent, DynamoDBBatchResponse>()
    .use(traceInvocations())
    .use(injectLambdaContext(logger))
    .use(publishMetrics)
    .handler(async (event) => {
      await run(event.Records, await use(service));
      return { batchItemFailures: [] };
    });
}
