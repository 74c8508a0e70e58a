import { CustomResource, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { FunctionDescription, RotatedSecret } from '../description.ts';
import { constructIdFor, SluiceFunction } from './sluice-function.ts';

export interface KeyRotationProps {
  readonly description: FunctionDescription;
  /** The secrets the function rotates, and how often. */
  readonly secrets: Readonly<Record<RotatedSecret, { readonly secret: secretsmanager.ISecret; readonly every: Duration }>>;
  /** Where the function writes the root key's verifier (`functions/lib/aws/key-rotation.ts`). */
  readonly rootKeyVerifier: secretsmanager.ISecret;
  readonly environment: Readonly<Record<string, string>>;
  readonly logRetention: logs.RetentionDays;
}

/**
 * Secrets Manager rotation of the root key and the data keyring: one rotation function
 * (`functions/rotate-keys.ts`) and a rotation schedule per secret. The schedules are L1
 * `CfnRotationSchedule`s on purpose: `Secret.addRotationSchedule` would also grant the function
 * `secretsmanager:GetRandomPassword` on `*` and every KMS use of the secrets key through Secrets
 * Manager (`kms:ReEncrypt*`, `kms:GenerateDataKey*`) for any secret. The function makes its own
 * randomness, and infra/access.ts grants exactly what rotating each secret takes (`rotates`).
 * No rotation runs at deploy time; the first is one period after, or `aws secretsmanager rotate-secret`.
 *
 * The root key's first verifier comes from a custom resource served by the same function (its
 * `sync-root-key-verifier` step, run on Create and Update): CloudFormation waits for it, so the
 * verifier exists before the stack (or an update) completes, and nothing rotates at deploy time.
 */
export class KeyRotation extends Construct {
  readonly rotationFunction: SluiceFunction;
  readonly schedules: ReadonlyMap<RotatedSecret, secretsmanager.CfnRotationSchedule>;
  /** Writes the verifier of the root key in place at deploy time; what reads the verifier should depend on it. */
  readonly verifierSync: CustomResource;

  constructor(scope: Construct, id: string, props: KeyRotationProps) {
    super(scope, id);
    this.rotationFunction = new SluiceFunction(this, constructIdFor(props.description.name), {
      description: props.description,
      environment: props.environment,
      logRetention: props.logRetention,
    });
    const { lambdaFunction } = this.rotationFunction;
    // Secrets Manager invokes it for secrets of this account only (AWS's advice against a confused deputy).
    lambdaFunction.addPermission('SecretsManagerInvoke', {
      principal: new iam.ServicePrincipal('secretsmanager.amazonaws.com'),
      sourceAccount: Stack.of(this).account,
    });
    const permission = lambdaFunction.node.findChild('SecretsManagerInvoke');

    const schedules = new Map<RotatedSecret, secretsmanager.CfnRotationSchedule>();
    for (const [name, { secret, every }] of Object.entries(props.secrets) as [
      RotatedSecret,
      KeyRotationProps['secrets'][RotatedSecret],
    ][]) {
      const schedule = new secretsmanager.CfnRotationSchedule(this, `${constructIdFor(name)}Schedule`, {
        secretId: secret.secretArn,
        rotationLambdaArn: lambdaFunction.functionArn,
        rotationRules: { scheduleExpression: `rate(${every.toDays()} days)` },
        rotateImmediatelyOnUpdate: false,
      });
      // Secrets Manager checks that it may invoke the function, and a rotation needs the grants.
      schedule.node.addDependency(permission, this.rotationFunction.role);
      schedules.set(name, schedule);
    }
    this.schedules = schedules;

    // The function itself is the service token: no provider framework, so no other function or role.
    this.verifierSync = new CustomResource(this, 'RootKeyVerifierSync', {
      serviceToken: lambdaFunction.functionArn,
      resourceType: 'Custom::SluiceRootKeyVerifier',
      properties: { RootKeySecretArn: props.secrets.rootKey.secret.secretArn, VerifierSecretArn: props.rootKeyVerifier.secretArn },
      // A function that never answers would otherwise hold the deploy for an hour.
      serviceTimeout: Duration.minutes(5),
    });
    this.verifierSync.node.addDependency(this.rotationFunction.role);
  }

  /** The rotation function, keyed by name, like the other constructs' `functions`. */
  get functions(): ReadonlyMap<string, SluiceFunction> {
    return new Map([[this.rotationFunction.description.name, this.rotationFunction]]);
  }
}
