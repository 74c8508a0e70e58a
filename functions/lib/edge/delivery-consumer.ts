import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { delivery, deliveryDeadLetters } from '../container.ts';
import type { AttributedReport } from '../core/delivery.ts';
import { QueueTask } from '../core/jobs.ts';
import type { DeliveryLane } from '../core/model.ts';
import { metricNames } from './metric-names.ts';
import { logger, metrics } from './observability.ts';
import { sqsConsumer } from './sqs.ts';

/** The delivery log: one line per attempt, and a line for anything else that happened to a delivery. */
function report(outcome: AttributedReport, lane: DeliveryLane): void {
  const ids = { ...outcome.ids, lane };
  switch (outcome.kind) {
    case 'attempted': {
      const { attempt, delivery } = outcome;
      logger.info('delivery attempt', {
        ...ids,
        attempt: attempt.attempt,
        trigger: attempt.trigger,
        statusCode: attempt.statusCode,
        durationMs: attempt.durationMs,
        outcome: attempt.outcome,
        status: delivery.status,
        ...(attempt.error && { error: attempt.error }),
        ...(outcome.retryInSeconds !== undefined && { retryInSeconds: Math.round(outcome.retryInSeconds) }),
      });
      metrics.addMetric(metricNames.deliveryAttempts, MetricUnit.Count, 1);
      metrics.addMetric(attempt.outcome === 'succeeded' ? metricNames.deliverySucceeded : metricNames.deliveryFailed, MetricUnit.Count, 1);
      if (lane === 'primary') {
        // First attempts to healthy endpoints: a failing endpoint's jobs and all retries run on the retry lane.
        metrics.addMetric(metricNames.primaryLaneAttempts, MetricUnit.Count, 1);
        if (attempt.outcome !== 'succeeded') metrics.addMetric(metricNames.primaryLaneFailed, MetricUnit.Count, 1);
      }
      metrics.addMetric(metricNames.deliveryLatency, MetricUnit.Milliseconds, attempt.durationMs);
      if (delivery.status === 'dead') metrics.addMetric(metricNames.deadLetters, MetricUnit.Count, 1);
      if (outcome.endpointDisabled) {
        logger.warn('endpoint disabled', { endpointId: ids.endpointId, reason: outcome.endpointDisabled });
        metrics.addMetric(metricNames.endpointsDisabled, MetricUnit.Count, 1);
      }
      break;
    }
    case 'closed':
      logger.warn('delivery recorded without an attempt', { ...ids, status: outcome.delivery.status, reason: outcome.reason });
      break;
    case 'diverted':
      logger.info('delivery moved to the retry lane', { ...ids, reason: outcome.reason });
      break;
    case 'throttled':
      metrics.addMetric(metricNames.deliveryThrottled, MetricUnit.Count, 1);
      logger.debug('delivery waits for its endpoint rate limit', ids);
      break;
    case 'skipped':
      logger.debug('delivery job skipped', { ...ids, reason: outcome.reason });
      break;
    case 'deferred':
      logger.debug('delivery job deferred', { ...ids, dueInSeconds: outcome.dueInSeconds });
      break;
  }
}

/** A delivery-queue consumer for one lane: first attempts of messages, and later attempts of deliveries. */
export function deliveryConsumer(lane: DeliveryLane) {
  return sqsConsumer({
    job: QueueTask,
    service: delivery,
    deadLetters: deliveryDeadLetters,
    prepare: (entries, service) =>
      service.prepare(
        entries.map(({ job, record }) => ({ task: job, receiveCount: Number(record.attributes.ApproximateReceiveCount ?? '1') })),
      ),
    run: async (task, context, service) => {
      for (const outcome of await service.runTask(task, context, lane)) report(outcome, lane);
    },
  });
}
