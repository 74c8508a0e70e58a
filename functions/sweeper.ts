import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { sweeper } from './lib/container.ts';
import { metricNames } from './lib/edge/metric-names.ts';
import { logger, metrics } from './lib/edge/observability.ts';
import { scheduledHandler } from './lib/edge/scheduled.ts';

/** Scheduled every minute: re-enqueues work that is overdue in the ledger (lost queue messages). */
export const handler = scheduledHandler(sweeper, async (service) => {
  const report = await service.sweep();
  if (report.scheduled > 0) logger.info('sweeper queued scheduled messages', { scheduled: report.scheduled });
  if (report.deliveries + report.messages > 0) {
    logger.warn('sweeper re-enqueued overdue work', { deliveries: report.deliveries, messages: report.messages, checked: report.checked });
    metrics.addMetric(metricNames.sweptDeliveries, MetricUnit.Count, report.deliveries);
    metrics.addMetric(metricNames.sweptMessages, MetricUnit.Count, report.messages);
    metrics.publishStoredMetrics();
  }
  return report;
});
