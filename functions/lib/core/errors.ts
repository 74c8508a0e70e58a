/**
 * Domain errors. The core throws these; only the HTTP edge turns them into status codes
 * (see functions/lib/edge/error-mapping.ts).
 */
export interface ErrorDetail {
  readonly path?: string;
  readonly message: string;
}

export abstract class SluiceError extends Error {
  abstract readonly code: string;
  readonly details?: readonly ErrorDetail[];

  constructor(message: string, details?: readonly ErrorDetail[]) {
    super(message);
    this.name = new.target.name;
    if (details !== undefined) this.details = details;
  }
}

export class InvalidJsonError extends SluiceError {
  readonly code = 'invalid_json';
}

export class ValidationError extends SluiceError {
  readonly code = 'validation_failed';
}

export class UnauthorizedError extends SluiceError {
  readonly code = 'unauthorized';
}

export class ForbiddenScopeError extends SluiceError {
  readonly code = 'forbidden_scope';
}

export class NotFoundError extends SluiceError {
  readonly code = 'not_found';
  /** `message`, when "does not exist" would mislead (asking an API key for its portal session). */
  constructor(kind: string, id: string, message = `${kind} '${id}' does not exist`) {
    super(message);
  }
}

export class ConflictError extends SluiceError {
  readonly code = 'conflict';
}

export class PayloadTooLargeError extends SluiceError {
  readonly code = 'payload_too_large';
}

export class UnknownEventTypeError extends SluiceError {
  readonly code = 'unknown_event_type';
  constructor(type: string) {
    super(`event type '${type}' is not declared; create it with PUT /v1/event-types/${type}`);
  }
}

export class SchemaMismatchError extends SluiceError {
  readonly code = 'schema_mismatch';
}

export class ForbiddenDestinationError extends SluiceError {
  readonly code = 'forbidden_destination';
}

export class UnsupportedMediaTypeError extends SluiceError {
  readonly code = 'unsupported_media_type';
}

/** An Idempotency-Key used again for a different request: replaying the first answer would hide the new one. */
export class IdempotencyKeyReusedError extends SluiceError {
  readonly code = 'idempotency_key_reused';
}

export class RateLimitedError extends SluiceError {
  readonly code = 'rate_limited';
  /** Seconds until a retry may succeed; the edge sends it as `Retry-After`. */
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds = 1) {
    super(message);
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}
