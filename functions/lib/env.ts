import * as z from 'zod';
import { DEFAULT_CACHE_SECONDS } from './core/cache.ts';
import { DEFAULT_TENANT_INGEST_PER_SECOND } from './core/ingest-budget.ts';

/**
 * The environment variable names of every function: declared here, beside the schema that reads
 * them, and imported by the CDK stack and the local runtime that set them (infra imports functions,
 * never the reverse).
 */
export const envNames = {
  profile: 'SLUICE_PROFILE',
  tableName: 'SLUICE_TABLE_NAME',
  deliveryQueueUrl: 'SLUICE_DELIVERY_QUEUE_URL',
  deliveryDeadLetterQueueUrl: 'SLUICE_DELIVERY_DLQ_URL',
  retryQueueUrl: 'SLUICE_RETRY_QUEUE_URL',
  sweepGraceSeconds: 'SLUICE_SWEEP_GRACE_SECONDS',
  endpointFailureWindowSeconds: 'SLUICE_ENDPOINT_FAILURE_WINDOW_SECONDS',
  hookRateLimitPerSecond: 'SLUICE_HOOK_RATE_LIMIT_PER_SECOND',
  tenantIngestPerSecond: 'SLUICE_TENANT_INGEST_PER_SECOND',
  cacheSeconds: 'SLUICE_CACHE_SECONDS',
  // What authenticating functions check the root key against (its hashes): the verifier JSON
  // (local) or its secret's ARN (AWS). The root-key secret itself is named to the rotation function only.
  rootKeyVerifier: 'SLUICE_ROOT_KEY_VERIFIER',
  rootKeyVerifierArn: 'SLUICE_ROOT_KEY_VERIFIER_ARN',
  rootKeySecretArn: 'SLUICE_ROOT_KEY_SECRET_ARN',
  encryptionKey: 'SLUICE_ENCRYPTION_KEY',
  encryptionKeySecretArn: 'SLUICE_ENCRYPTION_KEY_SECRET_ARN',
  rootKeyHandOverSeconds: 'SLUICE_ROOT_KEY_HAND_OVER_SECONDS',
  retentionDays: 'SLUICE_RETENTION_DAYS',
  allowHttp: 'SLUICE_ALLOW_HTTP',
  allowLoopback: 'SLUICE_ALLOW_LOOPBACK',
  allowPrivate: 'SLUICE_ALLOW_PRIVATE',
} as const;

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
    [envNames.hookRateLimitPerSecond]: z.coerce.number().int().min(1).max(10_000).default(10),
    // 0 turns the per-tenant ingest budget off.
    [envNames.tenantIngestPerSecond]: z.coerce.number().int().min(0).max(1_000_000).default(DEFAULT_TENANT_INGEST_PER_SECOND),
    [envNames.cacheSeconds]: z.coerce.number().min(0).max(300).default(DEFAULT_CACHE_SECONDS),
    [envNames.sweepGraceSeconds]: z.coerce.number().int().min(1).max(3600).default(120),
    [envNames.endpointFailureWindowSeconds]: z.coerce
      .number()
      .int()
      .min(1)
      .default(5 * 24 * 3600),
    [envNames.rootKeyVerifier]: z.string().min(1).optional(),
    [envNames.rootKeyVerifierArn]: z.string().min(1).optional(),
    // The root key itself: the rotation function's only.
    [envNames.rootKeySecretArn]: z.string().min(1).optional(),
    [envNames.encryptionKey]: z.string().min(1).optional(),
    [envNames.encryptionKeySecretArn]: z.string().min(1).optional(),
    // How long a rotated-out root key keeps working (read by the rotation function only).
    [envNames.rootKeyHandOverSeconds]: z.coerce
      .number()
      .int()
      .min(0)
      .max(30 * 24 * 3600)
      .default(24 * 3600),
    [envNames.retentionDays]: z.coerce.number().int().min(1).max(365).default(30),
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
