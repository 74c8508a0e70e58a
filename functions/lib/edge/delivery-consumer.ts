import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import type { DeliveryLane } from '../core/model.ts';
import { logger, metrics } from './observability.ts';
import { sqsConsumer } from './sqs.ts';

const DeliveryJob = z.object({
  deliveryId: z.string().min(1),
  tenantId: z.string().min(1),
  messageId: z.string().min(1),
  endpointId: z.string().min(1),
  trigger: z.enum(['scheduled', 'manual']).optional(),
});

/** A delivery-queue consumer for one lane: one signed HTTP attempt per job, recorded in the ledger. */
export function deliveryConsumer(lane: DeliveryLane) {
  return sqsConsumer({
    job: DeliveryJob,
    deadLetters: (app) => app.deadLetters.delivery,
    prepare: (jobs, app) => app.delivery.prepare(jobs),
    run: async (job, context, app) => {
      const report = await app.delivery.run(job, context, lane);
      const ids = { messageId: job.messageId, endpointId: job.endpointId, deliveryId: job.deliveryId, lane };
      switch (report.kind) {
        case 'attempted': {
          const { attempt, delivery } = report;
          // The delivery log: one line per attempt.
          logger.info('delivery attempt', {
            ...ids,
            attempt: attempt.attempt,
            trigger: attempt.trigger,
            statusCode: attempt.statusCode,
            durationMs: attempt.durationMs,
            outcome: attempt.outcome,
            status: delivery.status,
            ...(attempt.error && { error: attempt.error }),
            ...(report.retryInSeconds !== undefined && { retryInSeconds: Math.round(report.retryInSeconds) }),
          });
          metrics.addMetric('DeliveryAttempts', MetricUnit.Count, 1);
          metrics.addMetric(attempt.outcome === 'succeeded' ? 'DeliverySucceeded' : 'DeliveryFailed', MetricUnit.Count, 1);
          metrics.addMetric('DeliveryLatency', MetricUnit.Milliseconds, attempt.durationMs);
          if (delivery.status === 'dead') metrics.addMetric('DeadLetters', MetricUnit.Count, 1);
          if (report.endpointDisabled) {
            logger.warn('endpoint disabled', { endpointId: job.endpointId, reason: report.endpointDisabled });
            metrics.addMetric('EndpointsDisabled', MetricUnit.Count, 1);
          }
          break;
        }
        case 'closed':
          logger.warn('delivery closed without an attempt', { ...ids, status: report.delivery.status, reason: report.reason });
          break;
        case 'diverted':
          logger.info('delivery moved to the retry lane', { ...ids, reason: report.reason });
          break;
        case 'throttled':
          metrics.addMetric('DeliveryThrottled', MetricUnit.Count, 1);
          logger.debug('delivery waits for its endpoint rate limit', ids);
          break;
        case 'skipped':
          logger.debug('delivery job skipped', { ...ids, reason: report.reason });
          break;
        case 'deferred':
          logger.debug('delivery job deferred', { ...ids, dueInSeconds: report.dueInSeconds });
          break;
      }
    },
  });
}
