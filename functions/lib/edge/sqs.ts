/**
 * The queue edge: every consumer is `sqsConsumer(...)`, a middy chain around Powertools'
 * BatchProcessor. Records are processed in parallel and failures are reported per record
 * (`batchItemFailures`), so one bad record never sends its whole batch back to the queue.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { z } from 'zod';
import { type Part, use } from '../container.ts';
import type { DeadLetterSink } from '../core/ports.ts';
import { logger, metrics, traceInvocations } from './observability.ts';

export interface ConsumerOptions<S, T, C> {
  /** The shape of a record body; a body that does not parse is poison. */
  readonly job: z.ZodType<T>;
  /** The service the records run on. */
  readonly service: Part<S>;
  readonly deadLetters: Part<DeadLetterSink>;
  /** Batch-wide work before the records run (one read for the whole batch). */
  readonly prepare: (entries: readonly { readonly job: T; readonly record: SQSRecord }[], service: S) => Promise<C>;
  readonly run: (job: T, context: C, service: S, record: SQSRecord) => Promise<void>;
}

function parseJob<T>(schema: z.ZodType<T>, record: SQSRecord): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(record.body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Flushes the EMF metrics an invocation recorded. Powertools' own middleware warns on every
 * invocation that recorded none (a batch of skipped duplicates), which is normal here.
 */
const publishMetrics: MiddlewareObj<SQSEvent, SQSBatchResponse> = {
  after: async () => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  },
  onError: async () => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  },
};

export function sqsConsumer<S, T, C>(options: ConsumerOptions<S, T, C>) {
  const processor = new BatchProcessor(EventType.SQS);
  return middy<SQSEvent, SQSBatchResponse>()
    .use(traceInvocations())
    .use(injectLambdaContext(logger))
    .use(publishMetrics)
    .handler(async (event, lambdaContext) => {
      const service = await use(options.service);
      const jobs = new Map<string, T>();
      const entries: { job: T; record: SQSRecord }[] = [];
      for (const record of event.Records) {
        const job = parseJob(options.job, record);
        if (job === undefined) continue;
        jobs.set(record.messageId, job);
        entries.push({ job, record });
      }
      const context = await options.prepare(entries, service);
      return processPartialResponse(
        event,
        async (record: SQSRecord) => {
          const job = jobs.get(record.messageId);
          if (job === undefined) {
            // Poison: no retry can make it parse. Park it at once rather than cycling it
            // through maxReceiveCount receives, and let the rest of the batch go on.
            logger.error('unparseable queue message parked in the dead-letter queue', { sqsMessageId: record.messageId });
            await (await use(options.deadLetters)).park(record.body, 'unparseable message body');
            return;
          }
          await options.run(job, context, service, record);
        },
        processor,
        { context: lambdaContext },
      );
    });
}
