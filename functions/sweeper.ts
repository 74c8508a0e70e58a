import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import type { ScheduledEvent } from 'aws-lambda';
import { sweeper, use } from './lib/container.ts';
import { metricNames } from './lib/edge/metric-names.ts';
import { logger, metrics, traceInvocations } from './lib/edge/observability.ts';

/** Scheduled every minute: re-enqueues work that is overdue in the ledger (lost queue messages). */
export const handler = middy<ScheduledEvent, { deliveries: number; messages: number }>()
  .use(traceInvocations())
  .use(injectLambdaContext(logger))
  .handler(async () => {
    const report = await (await use(sweeper)).sweep();
    if (report.deliveries + report.messages > 0) {
      logger.warn('sweeper re-enqueued overdue work', { ...report });
      metrics.addMetric(metricNames.sweptDeliveries, MetricUnit.Count, report.deliveries);
      metrics.addMetric(metricNames.sweptMessages, MetricUnit.Count, report.messages);
      metrics.publishStoredMetrics();
    }
    return report;
  });
