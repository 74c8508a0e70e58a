/**
 * Deploy-time settings of the Sluice stack, read from CDK context (`cdk.json` or `-c key=value`).
 * Values given on the command line arrive as strings, so booleans and numbers are coerced.
 */

import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import * as z from 'zod';
import { CorsOrigins } from '../functions/lib/api/route-spec.ts';
import { tunables } from '../functions/lib/env.ts';
import { type ConsumerDescription, consumers } from './description.ts';

/** `true` from cdk.json, `"true"`/`"1"`/`"yes"` (and their negatives) from `-c key=value`. */
const contextBoolean = z.union([z.boolean(), z.stringbool()]);

/** SQS event sources accept a maximum concurrency of 2 to 1000. */
const maxConcurrency = z.coerce.number().int().min(2).max(1000).optional();
const reservedConcurrency = z.coerce.number().int().min(1).optional();

/**
 * The context keys that size each queue consumer. Optional: without them a consumer keeps the
 * `maxConcurrency` of infra/description.ts and no reserved concurrency.
 */
export const consumerConcurrencyKeys = {
  deliver: { max: 'deliverMaxConcurrency', reserved: 'deliverReservedConcurrency' },
  'deliver-retries': { max: 'deliverRetriesMaxConcurrency', reserved: 'deliverRetriesReservedConcurrency' },
} as const;

type ConcurrencyKey = (typeof consumerConcurrencyKeys)[keyof typeof consumerConcurrencyKeys]['max' | 'reserved'];

const hostname = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

export const sluiceConfigSchema = z
  .object({
    /** Names the deployment in tags, the API name and the dashboard; lower-case so it is valid everywhere. */
    stage: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,19}$/, 'stage must be lower-case letters, digits and dashes (at most 20)')
      .default('dev'),
    /** Run the cdk-nag AwsSolutions checks during synth. */
    nag: contextBoolean.default(false),
    /** Guards the ledger against an accidental `DeleteTable`; turn off only for throwaway stages. */
    tableDeletionProtection: contextBoolean.default(true),
    /** Retention of every log group of the stack (Lambda and API access logs). */
    logRetentionDays: z.coerce.number().pipe(z.enum(RetentionDays)).default(RetentionDays.ONE_MONTH),
    // The functions' tunables: each key is parsed with the very schema the functions parse their
    // environment with (`tunables` in functions/lib/env.ts), so the rule and the default live there.
    /** How long message and delivery history is kept (`SLUICE_RETENTION_DAYS`, DynamoDB TTL). */
    historyRetentionDays: tunables.retentionDays,
    /** How overdue work must be before the sweeper re-enqueues it (`SLUICE_SWEEP_GRACE_SECONDS`). */
    sweepGraceSeconds: tunables.sweepGraceSeconds,
    /** A run of failed attempts this long disables an endpoint (`SLUICE_ENDPOINT_FAILURE_WINDOW_SECONDS`, default 5 days). */
    endpointFailureWindowSeconds: tunables.endpointFailureWindowSeconds,
    /** Inbound-hook triggers a second per key (`SLUICE_HOOK_RATE_LIMIT_PER_SECOND`, read by the two hook functions only). */
    hookRateLimitPerSecond: tunables.hookRateLimitPerSecond,
    /**
     * Messages a second one tenant may post per ingest function instance (`SLUICE_TENANT_INGEST_PER_SECOND`,
     * 0 for no limit). See the README's "Isolation" for what it guarantees where.
     */
    tenantIngestPerSecond: tunables.tenantIngestPerSecond,
    /**
     * How long a function instance may use a copy of a key grant, an event type or a tenant's
     * endpoints (`SLUICE_CACHE_SECONDS`): the longest a revoked key or a changed endpoint lives on.
     */
    cacheSeconds: tunables.cacheSeconds,

    /**
     * Days between Secrets Manager rotations of the root key; the replaced key keeps working for
     * `rootKeyHandOverHours` (`SLUICE_ROOT_KEY_HAND_OVER_SECONDS` of the rotation function).
     */
    rootKeyRotationDays: z.coerce.number().int().min(1).max(1000).default(90),
    rootKeyHandOverHours: z.coerce
      .number()
      .int()
      .min(0)
      .max(30 * 24)
      .default(24),
    /** Days between rotations of the data keyring: each stages a new key and starts sealing with the one staged last time. */
    dataKeyRotationDays: z.coerce.number().int().min(1).max(1000).default(30),

    /** Subscribes this address to the alarm topic the stack creates (confirm the e-mail SNS sends). */
    alarmEmail: z.email().optional(),
    /** An existing SNS topic for the alarms instead of one created by the stack (same account and region). */
    alarmTopicArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'alarmTopicArn must be an SNS topic ARN')
      .optional(),
    /** The delivery failure-rate alarm fires when failed / attempts over 5 minutes exceeds this share. */
    failureRateThreshold: z.coerce.number().gt(0).max(1).default(0.2),
    /** ... and only when there were more attempts than this in those 5 minutes (a few failures are noise). */
    failureRateMinAttempts: z.coerce.number().int().min(0).default(10),

    /**
     * Per-endpoint CloudWatch metrics from the delivery log (metric filters with an `endpointId`
     * dimension). Off by default: each active endpoint costs five custom metrics (about $1.50 a month
     * at list price) and CloudWatch may disable a filter past 1 000 endpoints an hour. See docs/operations.md.
     */
    endpointMetrics: contextBoolean.default(false),
    /** Alarm when one tenant has more than this many deliveries go dead in 5 minutes (Contributor Insights); 0: no alarm. */
    deadDeliveriesPerTenantAlarm: z.coerce.number().int().min(0).default(0),

    /**
     * X-Ray tracing of every function (Powertools Tracer, active tracing, a sampling rule). Off by
     * default: X-Ray bills each recorded trace, and the X-Ray SDK slows every function it runs in.
     * See docs/operations.md.
     */
    tracing: contextBoolean.default(false),
    /** The share of invocations the sampling rule records beyond its reservoir of one a second (0 to 1). */
    tracingSampleRate: z.coerce.number().min(0).max(1).default(0.05),

    /** Custom domain of the API (optional); needs `certificateArn`, an ACM certificate in the stack's region. */
    domainName: z.string().toLowerCase().regex(hostname, 'domainName must be a host name such as hooks.example.com').optional(),
    certificateArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/, 'certificateArn must be an ACM certificate ARN')
      .optional(),

    /** Browser origins allowed to call the API (CORS), comma-separated; none by default. */
    corsOrigins: CorsOrigins,

    /**
     * Reserve each queue consumer's concurrency (its event source's maximum, unless its
     * `...ReservedConcurrency` key says more), so an API burst cannot throttle deliveries and send
     * their jobs to the DLQ after five receives. Off only for accounts too small to reserve it.
     */
    reserveConsumerConcurrency: contextBoolean.default(true),
    /**
     * The account's Lambda concurrency quota in this region, which the reservations must leave 100
     * of (Lambda keeps 100 unreserved). AWS's default is 1 000; new accounts may start lower: check
     * Service Quotas, "Concurrent executions".
     */
    accountConcurrencyQuota: z.coerce.number().int().min(100).default(1000),

    /**
     * API Gateway throttles, per route and for all callers together (per-tenant fairness is
     * `tenantIngestPerSecond`'s job): requests a second, and the burst above it. `POST /v1/messages`
     * is `ingest`; the inbound hooks `hooks`; other GET and HEAD routes `read`; the remaining
     * writes `manage`; anything no route takes (the `$default` route) `unrouted`.
     */
    ingestRateLimit: z.coerce.number().int().min(1).max(50_000).default(500),
    ingestBurstLimit: z.coerce.number().int().min(1).max(50_000).default(1000),
    hooksRateLimit: z.coerce.number().int().min(1).max(50_000).default(100),
    readRateLimit: z.coerce.number().int().min(1).max(50_000).default(100),
    manageRateLimit: z.coerce.number().int().min(1).max(50_000).default(50),

    /** Extra tags on every resource (cost allocation), as a JSON object of strings: `{"team":"payments"}`. */
    tags: z
      .preprocess(
        (value) => (typeof value === 'string' ? JSON.parse(value) : value),
        z.record(z.string().regex(/^[\w .:/=+@-]{1,128}$/), z.string().max(256)),
      )
      .default({}),
    /**
     * A monthly AWS Budgets budget (USD) on this stage's tagged resources: the alarm topic hears at 80 %
     * of actual and 100 % of forecast spend. Cost allocation must have `sluice:stage` activated.
     */
    monthlyBudgetUsd: z.coerce.number().positive().optional(),

    deliverMaxConcurrency: maxConcurrency,
    deliverReservedConcurrency: reservedConcurrency,
    deliverRetriesMaxConcurrency: maxConcurrency,
    deliverRetriesReservedConcurrency: reservedConcurrency,
  })
  .refine((config) => !(config.alarmEmail && config.alarmTopicArn), {
    message: 'set alarmEmail (subscribed to the topic the stack creates) or alarmTopicArn (your own topic), not both',
    path: ['alarmEmail'],
  })
  .refine((config) => (config.domainName === undefined) === (config.certificateArn === undefined), {
    message: 'a custom domain needs both domainName and certificateArn',
    path: ['domainName'],
  })
  .superRefine((config, context) => {
    let reservedInAll = 0;
    for (const consumer of consumers) {
      reservedInAll += concurrencyOf(config, consumer).reservedConcurrency ?? 0;
      const { maxConcurrency: max, reservedConcurrency: reserved } = concurrencyOf(config, consumer);
      // AWS: an event source allowed more concurrency than the function has throttles its own polls.
      if (reserved !== undefined && max > reserved) {
        const keys = consumerConcurrencyKeys[consumer.name as keyof typeof consumerConcurrencyKeys];
        context.addIssue({
          code: 'custom',
          path: [keys.max],
          message: `${keys.max} (${max}) must not exceed ${keys.reserved} (${reserved}); set both`,
        });
      }
    }
    // Lambda refuses a reservation that leaves fewer than 100 unreserved: say so at synth, not at deploy.
    if (reservedInAll > config.accountConcurrencyQuota - 100) {
      context.addIssue({
        code: 'custom',
        path: ['accountConcurrencyQuota'],
        message:
          `the consumers reserve ${reservedInAll} concurrent executions, but an account quota of ${config.accountConcurrencyQuota} ` +
          'leaves only ' +
          `${config.accountConcurrencyQuota - 100} reservable (Lambda keeps 100 unreserved): lower the consumers' maximum concurrency, ` +
          'raise the quota, or set reserveConsumerConcurrency=false',
      });
    }
  });

export type SluiceConfig = z.output<typeof sluiceConfigSchema>;

/** The event source's maximum concurrency and the function's reserved concurrency of a consumer. */
export function concurrencyOf(
  config: Pick<SluiceConfig, ConcurrencyKey | 'reserveConsumerConcurrency'>,
  consumer: ConsumerDescription,
): { maxConcurrency: number; reservedConcurrency?: number } {
  const keys = consumerConcurrencyKeys[consumer.name as keyof typeof consumerConcurrencyKeys];
  if (!keys) throw new Error(`Consumer ${consumer.name} has no concurrency keys in infra/config.ts`);
  const maxConcurrency = config[keys.max] ?? consumer.maxConcurrency;
  // Reserved at least the event source's maximum, so the event source is never throttled by its own function.
  const reserved = config[keys.reserved] ?? (config.reserveConsumerConcurrency ? maxConcurrency : undefined);
  return { maxConcurrency, ...(reserved !== undefined && { reservedConcurrency: reserved }) };
}

/**
 * Reads every key of the schema from the construct's context and validates the lot. A key under
 * `stages.<stage>` (in cdk.json) overrides the flat key for that stage, so one file can say
 * `{"tenantIngestPerSecond": 50, "stages": {"prod": {"tenantIngestPerSecond": 500}}}`.
 */
export function readSluiceConfig(scope: Construct): SluiceConfig {
  const stage = String(scope.node.tryGetContext('stage') ?? sluiceConfigSchema.shape.stage.parse(undefined));
  const stages = z.record(z.string(), z.record(z.string(), z.unknown())).optional().parse(scope.node.tryGetContext('stages'));
  const overrides = stages?.[stage] ?? {};
  const unknown = Object.keys(overrides).filter((key) => !(key in sluiceConfigSchema.shape) || key === 'stage');
  if (unknown.length > 0) throw new Error(`Invalid Sluice CDK context: stages.${stage} names no setting ${unknown.join(', ')}`);
  const contextValues = Object.fromEntries(
    Object.keys(sluiceConfigSchema.shape).map((key) => [key, key in overrides ? overrides[key] : scope.node.tryGetContext(key)]),
  );
  const parsed = sluiceConfigSchema.safeParse(contextValues);
  if (!parsed.success) {
    throw new Error(`Invalid Sluice CDK context:\n${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}
