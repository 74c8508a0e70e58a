import * as z from 'zod';
import { DEFAULT_HOOK_RATE_LIMIT_PER_SECOND } from './core/actions.ts';
import { DEFAULT_CACHE_SECONDS } from './core/cache.ts';
import { DEFAULT_FAILURE_WINDOW_SECONDS } from './core/endpoint-health.ts';
import { DEFAULT_TENANT_INGEST_PER_SECOND } from './core/ingest-budget.ts';
import { MAX_SCHEDULE_AHEAD_SECONDS } from './core/schedule.ts';
import { envNames } from './env-names.ts';

export { envNames };

/** A day more than the scheduling window (`deliverAt` up to 7 days ahead). */
export const MIN_RETENTION_DAYS = Math.ceil(MAX_SCHEDULE_AHEAD_SECONDS / 86_400) + 1;

/**
 * The tunables a deployment sets, each with its rule and default written once: the functions
 * parse their environment with these, and the CDK context (infra/config.ts) parses the same keys
 * with the very same schemas, so a value the synth accepts never fails a cold start.
 */
export const tunables = {
  /** Inbound-hook triggers a second, per key. */
  hookRateLimitPerSecond: z.coerce.number().int().min(1).max(10_000).default(DEFAULT_HOOK_RATE_LIMIT_PER_SECOND),
  /** Messages a second one tenant may post per function instance; 0 turns the budget off. */
  tenantIngestPerSecond: z.coerce.number().int().min(0).max(1_000_000).default(DEFAULT_TENANT_INGEST_PER_SECOND),
  /** How long a process may use a copy of a key grant, an event type or a tenant's endpoints. */
  cacheSeconds: z.coerce.number().min(0).max(300).default(DEFAULT_CACHE_SECONDS),
  /** How overdue work must be before the sweeper re-enqueues it. */
  sweepGraceSeconds: z.coerce.number().int().min(1).max(3600).default(120),
  /** A run of failed attempts this long disables an endpoint. */
  endpointFailureWindowSeconds: z.coerce.number().int().min(1).default(DEFAULT_FAILURE_WINDOW_SECONDS),
  /**
   * How long message and delivery history is kept (DynamoDB TTL), counted from a message's
   * acceptance: longer than the scheduling window, or a message scheduled far ahead would expire
   * before its time.
   */
  retentionDays: z.coerce
    .number()
    .int()
    .min(
      MIN_RETENTION_DAYS,
      `at least ${MIN_RETENTION_DAYS} days: a message may be scheduled up to 7 days ahead, and is kept from its acceptance`,
    )
    .max(365)
    .default(30),
  /** How long the rotation keeps a replaced root key working (the rotation function's only). */
  rootKeyHandOverSeconds: z.coerce
    .number()
    .int()
    .min(0)
    .max(30 * 24 * 3600)
    .default(24 * 3600),
} as const;

export type Tunables = { readonly [K in keyof typeof tunables]: z.output<(typeof tunables)[K]> };

const flag = z
  .enum(['1', '0', 'true', 'false'])
  .optional()
  .transform((value) => (value === undefined ? undefined : value === '1' || value === 'true'));

const envSchema = z
  .object({
    [envNames.profile]: z.enum(['local', 'aws']).default('aws'),
    [envNames.tableName]: z.string().min(1),
    [envNames.deliveryQueueUrl]: z.url(),
    [envNames.deliveryDeadLetterQueueUrl]: z.url(),
    [envNames.retryQueueUrl]: z.url(),
    [envNames.hookRateLimitPerSecond]: tunables.hookRateLimitPerSecond,
    [envNames.tenantIngestPerSecond]: tunables.tenantIngestPerSecond,
    [envNames.cacheSeconds]: tunables.cacheSeconds,
    [envNames.sweepGraceSeconds]: tunables.sweepGraceSeconds,
    [envNames.endpointFailureWindowSeconds]: tunables.endpointFailureWindowSeconds,
    [envNames.rootKeyVerifier]: z.string().min(1).optional(),
    [envNames.rootKeyVerifierArn]: z.string().min(1).optional(),
    // The root key itself: the rotation function's only.
    [envNames.rootKeySecretArn]: z.string().min(1).optional(),
    [envNames.encryptionKey]: z.string().min(1).optional(),
    [envNames.encryptionKeySecretArn]: z.string().min(1).optional(),
    [envNames.rootKeyHandOverSeconds]: tunables.rootKeyHandOverSeconds,
    [envNames.retentionDays]: tunables.retentionDays,
    [envNames.allowHttp]: flag,
    [envNames.allowLoopback]: flag,
    [envNames.allowPrivate]: flag,
    AWS_REGION: z.string().default('us-east-1'),
    AWS_ENDPOINT_URL_DYNAMODB: z.url().optional(),
    AWS_ENDPOINT_URL_SQS: z.url().optional(),
  })
  .refine((env) => env[envNames.rootKeyVerifier] || env[envNames.rootKeyVerifierArn], {
    message: `set ${envNames.rootKeyVerifier} or ${envNames.rootKeyVerifierArn}`,
  })
  .refine((env) => env[envNames.encryptionKey] || env[envNames.encryptionKeySecretArn], {
    message: `set ${envNames.encryptionKey} or ${envNames.encryptionKeySecretArn}`,
  });

export interface SluiceConfig {
  readonly profile: 'local' | 'aws';
  readonly tableName: string;
  readonly queues: {
    readonly delivery: string;
    readonly deliveryDeadLetter: string;
    readonly retry: string;
  };
  /** Inbound-hook triggers a second, per key. */
  readonly hookRateLimitPerSecond: number;
  /** Messages a second one tenant may post (0: no limit). */
  readonly tenantIngestPerSecond: number;
  /** How long a process may use a copy of a key grant, an event type or a tenant's endpoints. */
  readonly cacheSeconds: number;
  /** How overdue work must be before the sweeper re-enqueues it. */
  readonly sweepGraceSeconds: number;
  /** A run of failed attempts this long disables an endpoint. */
  readonly endpointFailureWindowSeconds: number;
  /** The root key's verifier (`RootKeyVerifier`): given, or the ARN of its secret. */
  readonly rootKeyVerifier: { readonly value: string } | { readonly secretArn: string };
  /** The root-key secret: set for the rotation function only. */
  readonly rootKeySecretArn?: string;
  readonly encryptionKey: { readonly value: string } | { readonly secretArn: string };
  /** How long the rotation keeps a replaced root key working. */
  readonly rootKeyHandOverSeconds: number;
  readonly retentionDays: number;
  readonly destinations: { readonly allowHttp: boolean; readonly allowLoopback: boolean; readonly allowPrivate: boolean };
  readonly region: string;
  readonly endpoints: { readonly dynamodb?: string; readonly sqs?: string };
}

/** Parses the environment once; a missing or malformed variable fails the cold start loudly. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): SluiceConfig {
  const result = envSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'env'}: ${issue.message}`).join('; ');
    throw new Error(`Sluice configuration is invalid: ${problems}`);
  }
  const e = result.data;
  const local = e[envNames.profile] === 'local';
  const rootKeyVerifier = e[envNames.rootKeyVerifier];
  const rootKeySecretArn = e[envNames.rootKeySecretArn];
  const encryptionKey = e[envNames.encryptionKey];
  return {
    profile: e[envNames.profile],
    tableName: e[envNames.tableName],
    queues: {
      delivery: e[envNames.deliveryQueueUrl],
      deliveryDeadLetter: e[envNames.deliveryDeadLetterQueueUrl],
      retry: e[envNames.retryQueueUrl],
    },
    sweepGraceSeconds: e[envNames.sweepGraceSeconds],
    hookRateLimitPerSecond: e[envNames.hookRateLimitPerSecond],
    tenantIngestPerSecond: e[envNames.tenantIngestPerSecond],
    cacheSeconds: e[envNames.cacheSeconds],
    endpointFailureWindowSeconds: e[envNames.endpointFailureWindowSeconds],
    rootKeyVerifier: rootKeyVerifier ? { value: rootKeyVerifier } : { secretArn: e[envNames.rootKeyVerifierArn] ?? '' },
    ...(rootKeySecretArn && { rootKeySecretArn }),
    encryptionKey: encryptionKey ? { value: encryptionKey } : { secretArn: e[envNames.encryptionKeySecretArn] ?? '' },
    rootKeyHandOverSeconds: e[envNames.rootKeyHandOverSeconds],
    retentionDays: e[envNames.retentionDays],
    // The local profile may reach receivers on this machine over plain http; a deployed one may not.
    destinations: {
      allowHttp: e[envNames.allowHttp] ?? local,
      allowLoopback: e[envNames.allowLoopback] ?? local,
      allowPrivate: e[envNames.allowPrivate] ?? false,
    },
    region: e.AWS_REGION,
    endpoints: {
      ...(e.AWS_ENDPOINT_URL_DYNAMODB && { dynamodb: e.AWS_ENDPOINT_URL_DYNAMODB }),
      ...(e.AWS_ENDPOINT_URL_SQS && { sqs: e.AWS_ENDPOINT_URL_SQS }),
    },
  };
}

/** Where a deployment's resources are: the names and addresses the functions are given. */
export interface DeployedResources {
  readonly profile: 'local' | 'aws';
  readonly tableName: string;
  readonly queues: SluiceConfig['queues'];
  readonly rootKeyVerifier: SluiceConfig['rootKeyVerifier'];
  readonly encryptionKey: SluiceConfig['encryptionKey'];
  /** The root-key secret: given to the rotation function only. */
  readonly rootKeySecretArn?: string;
}

/**
 * The environment of a function: the inverse of `loadConfig`, under the same names. The CDK stack
 * (with tokens for its resources) and the local stack both build their functions' environment here.
 * A tunable left out keeps its default.
 */
export function environmentFor(resources: DeployedResources, settings: Partial<Tunables> = {}): Record<string, string> {
  const environment: Record<string, string> = {
    [envNames.profile]: resources.profile,
    [envNames.tableName]: resources.tableName,
    [envNames.deliveryQueueUrl]: resources.queues.delivery,
    [envNames.deliveryDeadLetterQueueUrl]: resources.queues.deliveryDeadLetter,
    [envNames.retryQueueUrl]: resources.queues.retry,
    ...('value' in resources.rootKeyVerifier
      ? { [envNames.rootKeyVerifier]: resources.rootKeyVerifier.value }
      : { [envNames.rootKeyVerifierArn]: resources.rootKeyVerifier.secretArn }),
    ...('value' in resources.encryptionKey
      ? { [envNames.encryptionKey]: resources.encryptionKey.value }
      : { [envNames.encryptionKeySecretArn]: resources.encryptionKey.secretArn }),
    ...(resources.rootKeySecretArn && { [envNames.rootKeySecretArn]: resources.rootKeySecretArn }),
  };
  for (const [name, value] of Object.entries(settings)) {
    if (value !== undefined) environment[envNames[name as keyof Tunables]] = String(value);
  }
  return environment;
}
