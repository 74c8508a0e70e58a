import { z } from 'zod';
import { logger } from './lib/edge/observability.ts';
import { sqsConsumer } from './lib/edge/sqs.ts';

const FanOutJob = z.object({ messageId: z.string().min(1), tenantId: z.string().min(1) });

/** Fan-out queue consumer: one delivery per subscribed endpoint, then their jobs. */
export const handler = sqsConsumer({
  job: FanOutJob,
  deadLetters: (app) => app.deadLetters.fanOut,
  prepare: async () => undefined,
  run: async (job, _context, app) => {
    const report = await app.fanOut.fanOut(job);
    if (report.kind === 'unknown-message') logger.warn('fan-out for a message that is not in the ledger', { messageId: job.messageId });
    else if (report.kind === 'fanned-out')
      logger.info('fanned out', { messageId: report.messageId, deliveries: report.deliveries, created: report.created });
  },
});
