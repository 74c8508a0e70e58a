/**
 * The environment variable names of every function: declared here, read by the schema in env.ts,
 * and imported by the CDK stack and the local runtime that set them (infra imports functions,
 * never the reverse). A module of its own, free of zod, for the `$default` catch-all.
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
  // The `$default` catch-all's route list (`routeListOf`): the only variable of that function.
  routeList: 'SLUICE_ROUTE_LIST',
  // The portal page's built HTML (`portal/build.ts`): `portal.html` beside the bundle in Lambda, by
  // default; the local stack builds it at start and names its file here.
  portalFile: 'SLUICE_PORTAL_FILE',
} as const;
