import { RemovalPolicy } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/** Secrets Manager's punctuation set minus `+` and `/`, leaving exactly the base64 alphabet. */
const punctuationOutsideBase64 = '!"#$%&\'()*,-.:;<=>?@[\\]^_`{|}~';

/** 43 base64 characters carry 258 bits; Node's `Buffer.from(value, 'base64')` yields exactly 32 bytes. */
const encryptionKeyLength = 43;

/**
 * The two keys generated at deploy time: the root key (may create tenants) and the data
 * encryption key (encrypts endpoint signing secrets in the ledger).
 */
export class KeySecrets extends Construct {
  readonly rootKey: secretsmanager.Secret;
  readonly encryptionKey: secretsmanager.Secret;

  constructor(scope: Construct, id: string) {
    super(scope, id);

    this.rootKey = new secretsmanager.Secret(this, 'RootKey', {
      description: 'Sluice root key: authorises tenant creation',
      generateSecretString: { passwordLength: 48, excludePunctuation: true, includeSpace: false },
    });

    this.encryptionKey = new secretsmanager.Secret(this, 'EncryptionKey', {
      description: 'Sluice data encryption key: 32 random bytes, base64 without padding',
      generateSecretString: {
        passwordLength: encryptionKeyLength,
        excludeCharacters: punctuationOutsideBase64,
        includeSpace: false,
        // Forcing one character of each class would bias the key.
        requireEachIncludedType: false,
      },
    });

    // The ledger is retained with data encrypted under this key; losing the key loses the data.
    this.encryptionKey.applyRemovalPolicy(RemovalPolicy.RETAIN);
  }
}
