import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/**
 * One logger and one metrics sink per process. Log lines are JSON (the CloudWatch delivery log);
 * metrics are CloudWatch EMF. Neither ever receives a key, a secret or a request header.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'sluice' });

export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'Sluice',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'sluice',
});
