import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { keys } from '../../functions/lib/aws/ledger-keys.ts';
import { type QueryTarget, type TableLevel, tableActionsByLevel } from '../access.ts';
import {
  type FailureQueueDescription,
  type QueueName,
  queues,
  type StreamConsumerDescription,
  type TableDescription,
} from '../description.ts';
import { QueueWithDeadLetter } from './queue-with-dead-letter.ts';

export interface StorageProps {
  readonly stage: string;
  readonly ledger: TableDescription;
  readonly tableDeletionProtection: boolean;
  /** The consumers of the ledger's stream: each gets its failure queue here. */
  readonly streamConsumers: readonly StreamConsumerDescription[];
}

/**
 * Where a stream consumer's batches go once their retries are spent (the event source's
 * on-failure destination): descriptions of the records (shard, sequence numbers), not the records.
 */
export interface FailureQueue {
  /** The stream consumer (`functions/<name>.ts`) whose batches land here. */
  readonly consumer: string;
  readonly description: FailureQueueDescription;
  readonly queue: sqs.Queue;
}

/** Stream views by the description's name; the ledger's is the only one Sluice uses. */
const streamViewTypes = { NEW_IMAGE: dynamodb.StreamViewType.NEW_IMAGE } as const satisfies Record<
  TableDescription['stream'],
  dynamodb.StreamViewType
>;

/** Secrets Manager's punctuation set minus `+` and `/`, leaving exactly the base64 alphabet. */
const punctuationOutsideBase64 = '!"#$%&\'()*,-.:;<=>?@[\\]^_`{|}~';

/** 43 base64 characters carry 258 bits; Node's `Buffer.from(value, 'base64')` yields exactly 32 bytes. */
const encryptionKeyLength = 43;

/**
 * Everything that holds Sluice's state: the ledger table (docs/data-model.md) and its stream, the
 * work queues with their dead-letter queues, the stream consumers' failure queues, the two
 * generated keys in Secrets Manager and the customer-managed KMS key that encrypts them, and the
 * root key's verifier (hashes only, in a secret of its own). The
 * grant helpers scope every permission to the resource's own ARN.
 */
export class Storage extends Construct {
  readonly table: dynamodb.Table;
  readonly queues: Readonly<Record<QueueName, QueueWithDeadLetter>>;
  /** The failure queue of each stream consumer, by consumer name. */
  readonly failureQueues: ReadonlyMap<string, FailureQueue>;
  /** Encrypts both secrets. The ledger and the queues use AWS-owned keys (no per-call KMS grants or cost). */
  readonly secretsKey: kms.Key;
  /**
   * The root key: may create tenants. Rotated with a hand-over (infra/constructs/key-rotation.ts);
   * only the rotation function may read it.
   */
  readonly rootKey: secretsmanager.Secret;
  /**
   * The root key's verifier (`RootKeyVerifier`: its SHA-256 hashes and the hand-over's end), what
   * the authenticating functions read. Created empty; the rotation function alone writes it.
   */
  readonly rootKeyVerifier: secretsmanager.Secret;
  /**
   * The data encryption keyring: seals endpoint signing secrets, Basic-auth passwords and API keys
   * in the ledger. Generated as one bare key (read as key `k1`); rotation turns it into a keyring.
   */
  readonly encryptionKey: secretsmanager.Secret;
  private readonly indexNames: ReadonlySet<string>;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    const { ledger } = props;
    this.indexNames = new Set(ledger.indexes.map((index) => index.name));

    this.table = new dynamodb.Table(this, ledger.id, {
      partitionKey: { name: ledger.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: ledger.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: ledger.ttlAttribute,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      // New items feed the stream consumers (dispatch); keys alone would cost each a read.
      stream: streamViewTypes[ledger.stream],
      deletionProtection: props.tableDeletionProtection,
      // Tenants' history lives here: deleting the stack must never delete the data.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const index of ledger.indexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING },
        ...(index.projection.type === 'INCLUDE'
          ? { projectionType: dynamodb.ProjectionType.INCLUDE, nonKeyAttributes: [...index.projection.attributes] }
          : { projectionType: dynamodb.ProjectionType.KEYS_ONLY }),
      });
    }

    const entries = (Object.keys(queues) as QueueName[]).map(
      (name) => [name, new QueueWithDeadLetter(this, queues[name].id, { description: queues[name] })] as const,
    );
    this.queues = Object.fromEntries(entries) as Record<QueueName, QueueWithDeadLetter>;

    const failureQueues = new Map<string, FailureQueue>();
    for (const consumer of props.streamConsumers) {
      const description = consumer.failureQueue;
      // Encrypted and TLS-only like every queue; nothing consumes it, so it has no DLQ of its own.
      const queue = new sqs.Queue(this, description.id, {
        retentionPeriod: Duration.seconds(description.retentionSeconds),
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
      });
      failureQueues.set(consumer.name, { consumer: consumer.name, description, queue });
    }
    this.failureQueues = failureQueues;

    this.secretsKey = new kms.Key(this, 'SecretsKey', {
      description: `Sluice (${props.stage}): encrypts the root-key and data-encryption-key secrets`,
      enableKeyRotation: true,
      // The data key secret outlives the stack (below), and it is unreadable without this key.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.rootKey = new secretsmanager.Secret(this, 'RootKey', {
      description: 'Sluice root key: authorises tenant creation',
      encryptionKey: this.secretsKey,
      generateSecretString: { passwordLength: 48, excludePunctuation: true, includeSpace: false },
    });

    this.rootKeyVerifier = new secretsmanager.Secret(this, 'RootKeyVerifier', {
      description: "Sluice root key's verifier: the SHA-256 hashes the API checks the root key against (not secret)",
      // Not secret, so Secrets Manager's AWS managed key: readers need no KMS grant and the secrets key no new user.
    });
    // Empty (no GenerateSecretString): CloudFormation never owns or rewrites its value.
    (this.rootKeyVerifier.node.defaultChild as secretsmanager.CfnSecret).addPropertyDeletionOverride('GenerateSecretString');

    this.encryptionKey = new secretsmanager.Secret(this, 'EncryptionKey', {
      // Left as deployed: the first rotation turns the value into a keyring (functions/lib/crypto/keyring.ts).
      description: 'Sluice data encryption key: 32 random bytes, base64 without padding',
      encryptionKey: this.secretsKey,
      generateSecretString: {
        passwordLength: encryptionKeyLength,
        excludeCharacters: punctuationOutsideBase64,
        includeSpace: false,
        // Forcing one character of each class would bias the key.
        requireEachIncludedType: false,
      },
      // The ledger is retained with data sealed under this key; losing the key loses the data.
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /**
   * The level's item actions on the table ARN, and `dynamodb:Query` on exactly the listed
   * targets (the table ARN for `table`, `<table>/index/<name>` for a GSI). Never `index/*`.
   */
  grantTableAccess(grantee: iam.IGrantable, level: TableLevel, query: readonly QueryTarget[]): void {
    const tableArn = this.table.tableArn;
    const itemActions = tableActionsByLevel[level];
    if (itemActions.length > 0) iam.Grant.addToPrincipal({ grantee, actions: [...itemActions], resourceArns: [tableArn] });
    if (query.length === 0) return;
    const queryArns = query.map((target) => {
      if (target === 'table') return tableArn;
      if (!this.indexNames.has(target)) throw new Error(`The ledger has no index ${target}`);
      return `${tableArn}/index/${target}`;
    });
    iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:Query'], resourceArns: queryArns });
  }

  /**
   * Powertools' idempotency records of the creating routes (`Idempotency-Key`): item actions on
   * the table, but only in the records' own partition (`dynamodb:LeadingKeys`).
   */
  grantIdempotencyRecords(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      resourceArns: [this.table.tableArn],
      conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [keys.idempotencyRecords()] } },
    });
  }

  /** The stream consumer's failure queue; throws when it has none (e.g. after a rename). */
  failureQueueFor(consumerName: string): FailureQueue {
    const failureQueue = this.failureQueues.get(consumerName);
    if (!failureQueue) throw new Error(`No failure queue for the stream consumer ${consumerName}`);
    return failureQueue;
  }

  /** `sqs:SendMessage` only (it covers SendMessageBatch); Sluice never reads queue attributes or URLs at run time. */
  grantSend(grantee: iam.IGrantable, queue: sqs.IQueue): void {
    queue.grant(grantee, 'sqs:SendMessage');
  }

  /**
   * What Secrets Manager's rotation steps do to the secret (read any version, put the pending one,
   * move the staging labels), and the KMS calls Secrets Manager makes for them on the caller's
   * behalf (`kms:GenerateDataKey` to encrypt a new version, `kms:Decrypt` to read one), only for
   * this very secret, as `grantReadSecret` does.
   */
  grantRotateSecret(grantee: iam.IGrantable, secret: secretsmanager.Secret): void {
    if (secret.encryptionKey !== this.secretsKey) throw new Error(`${secret.node.path} is not encrypted with the Sluice secrets key`);
    iam.Grant.addToPrincipal({
      grantee,
      actions: [
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'secretsmanager:PutSecretValue',
        'secretsmanager:UpdateSecretVersionStage',
      ],
      resourceArns: [secret.secretArn],
    });
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [this.secretsKey.keyArn],
        conditions: this.viaSecretsManagerFor(secret),
      }),
    );
  }

  /**
   * `secretsmanager:GetSecretValue` on the secret, and `kms:Decrypt` on the secrets key only when
   * Secrets Manager asks for it on behalf of this very secret (its ARN is the encryption context
   * of every data key it stores), so the grant cannot decrypt the other secret or anything else.
   */
  grantReadSecret(grantee: iam.IGrantable, secret: secretsmanager.Secret): void {
    if (secret.encryptionKey !== this.secretsKey) throw new Error(`${secret.node.path} is not encrypted with the Sluice secrets key`);
    iam.Grant.addToPrincipal({ grantee, actions: ['secretsmanager:GetSecretValue'], resourceArns: [secret.secretArn] });
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [this.secretsKey.keyArn],
        conditions: this.viaSecretsManagerFor(secret),
      }),
    );
  }

  /**
   * `secretsmanager:GetSecretValue` on the root key's verifier, nothing else: it is encrypted with
   * Secrets Manager's AWS managed key, whose policy lets the account's principals use it through
   * Secrets Manager, so no KMS statement is needed.
   */
  grantReadVerifier(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['secretsmanager:GetSecretValue'], resourceArns: [this.rootKeyVerifier.secretArn] });
  }

  /** `secretsmanager:PutSecretValue` on the root key's verifier: a new current version (the AWS managed key, as above). */
  grantWriteVerifier(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['secretsmanager:PutSecretValue'], resourceArns: [this.rootKeyVerifier.secretArn] });
  }

  /** KMS use only by Secrets Manager, on behalf of this secret (its ARN is the encryption context of its data keys). */
  private viaSecretsManagerFor(secret: secretsmanager.Secret): Record<string, Record<string, string>> {
    return {
      StringEquals: {
        'kms:ViaService': `secretsmanager.${this.secretsKey.stack.region}.amazonaws.com`,
        'kms:EncryptionContext:SecretARN': secret.secretArn,
      },
    };
  }
}
