import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { ConflictError, IdempotencyKeyReusedError } from '../core/errors.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { keys } from './ledger-keys.ts';

/** How long an Idempotency-Key is remembered, as for messages (Stripe keeps 24 h too). */
export const IDEMPOTENCY_KEY_SECONDS = 24 * 3600;

/** What identifies a request and what it must match to be a replay. */
export interface IdempotentRequest {
  /** Whose key it is: the tenant, or `root`; keys of different tenants never meet. */
  readonly scope: string;
  readonly route: string;
  readonly key: string;
  /** The request as sent: a repeat must match it to get the first answer. */
  readonly request: { readonly method: string; readonly path: string; readonly body: string };
}

/** A stored answer: what the route returned the first time (status, headers, body). */
export interface StoredAnswer {
  readonly statusCode?: number;
  readonly headers?: Readonly<Record<string, string | number | boolean>>;
  readonly body?: string;
}

/**
 * What the record keeps: the answer sealed with the data key, since a first answer may carry a
 * secret (a new API key, an endpoint's signing secret) and every other secret in the ledger is
 * sealed too. `replayed` is set on the way out of a stored record, never stored.
 */
interface SealedAnswer {
  readonly sealed: string;
  readonly replayed?: boolean;
}

/**
 * Idempotency-Key on the API's creating POSTs, with Powertools' idempotency utility over the
 * ledger table (records in one partition, expiring with the table's TTL). The first answer is
 * kept for 24 h and a repeat of the same request gets it again with `idempotent-replayed: true`;
 * the same key on a different request is `422 idempotency_key_reused`, and a repeat while the
 * first is still running is `409`. A request that fails keeps no record, so it can be retried.
 */
export class ApiIdempotency {
  private readonly config: IdempotencyConfig;
  private readonly runOnce: (input: IdempotentRequest, execute: () => Promise<SealedAnswer>) => Promise<SealedAnswer>;

  constructor(
    client: DynamoDBClient,
    tableName: string,
    expiryAttribute: string,
    private readonly box: SecretBox,
  ) {
    this.config = new IdempotencyConfig({
      eventKeyJmesPath: '[scope, route, key]',
      payloadValidationJmesPath: 'request',
      expiresAfterSeconds: IDEMPOTENCY_KEY_SECONDS,
      hashFunction: 'sha256',
      responseHook: (response) => ({ ...(response as unknown as SealedAnswer), replayed: true }),
    });
    const persistenceStore = new DynamoDBPersistenceLayer({
      tableName,
      awsSdkV3Client: client,
      keyAttr: 'pk',
      sortKeyAttr: 'sk',
      staticPkValue: keys.idempotencyRecords(),
      expiryAttr: expiryAttribute,
    });
    this.runOnce = makeIdempotent(async (_input: IdempotentRequest, execute: () => Promise<SealedAnswer>) => execute(), {
      persistenceStore,
      config: this.config,
      dataIndexArgument: 0,
    });
  }

  async run(input: IdempotentRequest, context: Context, execute: () => Promise<StoredAnswer>): Promise<StoredAnswer> {
    // The remaining time bounds how long an in-progress record blocks a repeat.
    this.config.registerLambdaContext(context);
    try {
      const outcome = await this.runOnce(input, async () => ({ sealed: this.box.seal(JSON.stringify(await execute())) }));
      const answer = JSON.parse(this.box.open(outcome.sealed)) as StoredAnswer;
      return { ...answer, headers: { ...answer.headers, 'idempotent-replayed': String(outcome.replayed === true) } };
    } catch (error) {
      if (error instanceof IdempotencyValidationError) {
        // Powertools keeps the hash in base64; the API names fingerprints in hex, as for messages.
        const hash = error.existingRecord?.payloadHash;
        const fingerprint = hash ? `sha256:${Buffer.from(hash, 'base64').toString('hex')}` : 'unknown';
        throw new IdempotencyKeyReusedError('this Idempotency-Key was used for a different request; use a new key for a new request', [
          { path: 'idempotency-key', message: `first used for a request with fingerprint ${fingerprint}` },
        ]);
      }
      if (error instanceof IdempotencyAlreadyInProgressError) {
        throw new ConflictError('a request with this Idempotency-Key is still in progress; retry in a moment');
      }
      throw error;
    }
  }
}
