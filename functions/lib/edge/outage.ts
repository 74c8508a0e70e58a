/**
 * Which failures are a dependency being briefly unavailable (DynamoDB, SQS or Secrets Manager
 * down, throttling, a connection refused or reset) rather than a bug: the edge answers those
 * `503` with `Retry-After`, so clients retry them and only them.
 */
export const OUTAGE_RETRY_AFTER_SECONDS = 1;

/** What a client is told, in the management API's error body and in the hooks' answer alike. */
export const OUTAGE_MESSAGE = `a service Sluice depends on is briefly unavailable; retry in ${OUTAGE_RETRY_AFTER_SECONDS} s`;

export const outageHeaders: Readonly<Record<string, string>> = { 'retry-after': String(OUTAGE_RETRY_AFTER_SECONDS) };

const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

const TRANSIENT_SERVICE_ERRORS = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalServerError',
  'InternalFailure',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

interface ErrorLike {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly $fault?: unknown;
  readonly $retryable?: unknown;
  readonly cause?: unknown;
  readonly errors?: unknown;
}

export function isDependencyOutage(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 4) return false;
  const e = error as ErrorLike;
  if (e.$retryable || e.$fault === 'server') return true;
  if (typeof e.name === 'string' && TRANSIENT_SERVICE_ERRORS.has(e.name)) return true;
  if (typeof e.code === 'string' && TRANSIENT_NETWORK_CODES.has(e.code)) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isDependencyOutage(inner, depth + 1))) return true;
  return isDependencyOutage(e.cause, depth + 1);
}
