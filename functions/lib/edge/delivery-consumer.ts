import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { deliveryDeadLetters, deliveryLane } from '../container.ts';
import type { AttributedReport } from '../core/delivery.ts';
import { isReplayStep, QueueTask, type ReplayStep } from '../core/jobs.ts';
import type { DeliveryLane } from '../core/model.ts';
import type { ReplayStepReport } from '../core/replay.ts';
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
    case 'awaiting-pull':
      logger.info('delivery waits to be pulled', {
        ...ids,
        status: outcome.delivery.status,
        checkInSeconds: Math.round(outcome.checkInSeconds),
      });
      break;
  }
}

/** The replay log: one line per step, so a task's progress can be followed without the API. */
function reportStep(job: ReplayStep, outcome: ReplayStepReport): void {
  const ids = { tenantId: job.tenantId, taskId: job.taskId, step: job.step };
  switch (outcome.kind) {
    case 'advanced':
      logger.info('replay step', { ...ids, queued: outcome.queued, counts: outcome.task.counts, nextInSeconds: outcome.nextInSeconds });
      break;
    case 'finished':
      logger.info('replay finished', {
        ...ids,
        status: outcome.task.status,
        queued: outcome.queued,
        counts: outcome.task.counts,
        ...(outcome.task.error && { error: outcome.task.error }),
      });
      break;
    case 'resent':
      logger.warn('replay step sent again (its earlier run may have stopped before sending it)', { ...ids, next: outcome.task.step });
      break;
    case 'dropped':
      logger.debug('replay step dropped', { ...ids, reason: outcome.reason });
      break;
  }
}

function receiveCountOf(record: { attributes: { ApproximateReceiveCount?: string } }): number {
  return Number(record.attributes.ApproximateReceiveCount ?? '1');
}

/** A delivery-queue consumer for one lane: first attempts of messages, later attempts of deliveries, replay steps. */
export function deliveryConsumer(lane: DeliveryLane) {
  return sqsConsumer({
    job: QueueTask,
    service: deliveryLane,
    deadLetters: deliveryDeadLetters,
    prepare: (entries, { delivery }) =>
      delivery.prepare(entries.map(({ job, record }) => ({ task: job, receiveCount: receiveCountOf(record) }))),
    run: async (task, context, { delivery, replays }, record) => {
      if (isReplayStep(task)) {
        reportStep(task, await replays.step(task, receiveCountOf(record)));
        return;
      }
      for (const outcome of await delivery.runTask(task, context, lane)) report(outcome, lane);
    },
  });
}
