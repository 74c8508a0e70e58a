import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { metricNames } from './lib/edge/metric-names.ts';
import { logger, metrics } from './lib/edge/observability.ts';
import { streamConsumer } from './lib/edge/stream.ts';

/** The ledger's stream of new messages: their first attempts, queued on the delivery lanes. */
export const handler = streamConsumer(async (records, app) => {
  const messages = app.ledgerStream.newMessages(records);
  const jobs = await app.dispatch.dispatch(messages);
  metrics.addMetric(metricNames.messagesDispatched, MetricUnit.Count, messages.length);
  logger.debug('dispatched', { messages: messages.length, jobs });
});
