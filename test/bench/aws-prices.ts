/**
 * The AWS list prices the bench turns its counts into dollars with: us-east-1, standard tiers,
 * no free tier, no savings plans. One file, one date: re-check them on the pricing pages named
 * here before quoting a figure, and move `recordedOn` when you do.
 */
export const awsPrices = {
  recordedOn: '2026-11-30',
  region: 'us-east-1',
  dynamodb: {
    source: 'https://aws.amazon.com/dynamodb/pricing/',
    /** On-demand, after the November 2024 reduction. One unit per KB written; transactions count double. */
    onDemandPerMillionWriteUnits: 0.625,
    /** On-demand. One unit per strongly consistent 4 KB read, half a unit eventually consistent. */
    onDemandPerMillionReadUnits: 0.125,
    /** Provisioned capacity, per unit-hour. */
    provisionedPerWriteUnitHour: 0.00065,
    provisionedPerReadUnitHour: 0.00013,
    /** Share of provisioned capacity actually used; auto scaling usually targets 70 %. */
    provisionedUtilisation: 0.7,
  },
  sqs: {
    source: 'https://aws.amazon.com/sqs/pricing/',
    /** Standard queues; each 64 KB chunk of a request's payload is billed as one request. */
    perMillionRequests: 0.4,
  },
  apiGateway: {
    source: 'https://aws.amazon.com/api-gateway/pricing/',
    /** HTTP APIs, first 300 million requests a month; metered in 512 KB increments. */
    httpApiPerMillionRequests: 1.0,
  },
  lambda: {
    source: 'https://aws.amazon.com/lambda/pricing/',
    /** Arm64. */
    perMillionRequests: 0.2,
    perGbSecond: 0.0000133334,
  },
  cloudWatchLogs: {
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
    /** Standard log class ingestion. */
    perGbIngested: 0.5,
    /** What the Lambda platform writes per invocation besides the function's own lines (START, END, REPORT). */
    platformBytesPerInvocation: 340,
  },
  eventBridge: {
    source: 'https://aws.amazon.com/eventbridge/pricing/',
    /** The comparison: one custom event put, plus one API-destination invocation per target. */
    perMillionEvents: 1.0,
    perMillionApiDestinationInvocations: 0.2,
  },
} as const;
