/**
 * cdk-nag (v3: a CDK policy-validation plugin, not an Aspect) and every finding Sluice accepts
 * on purpose, each with its reason. Acknowledgements are per construct, so a new resource of the
 * same kind is checked afresh.
 */
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { SluiceStack } from './sluice-stack.ts';

const lambdaBasicExecutionRole = 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]';

/** Registers the AwsSolutions pack on the app (synth fails on unacknowledged errors) and the acknowledgements. */
export function applyNagChecks(app: App, stack: SluiceStack): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  acknowledgeNagFindings(stack);
}

export function acknowledgeNagFindings(stack: SluiceStack): void {
  for (const sluiceFunction of stack.functions.values()) {
    acknowledge(sluiceFunction, lambdaBasicExecutionRole, 'AWS-managed policy that only lets the function write its own CloudWatch logs.');
    acknowledge(
      sluiceFunction,
      'AwsSolutions-L1',
      'Pinned to nodejs22.x on purpose: the local stack and its dependencies (middy 7, fauxqs) run on Node 22, and the deployed runtime must match.',
    );
  }

  acknowledge(
    stack.api.httpApi,
    'AwsSolutions-APIG4',
    'Every route authenticates the caller itself with a Sluice API key (Authorization: Bearer) in the Lambda, as the API contract specifies.',
  );

  acknowledge(
    stack.keySecrets.rootKey,
    'AwsSolutions-SMG4',
    'Rotating the root key needs a rotation Lambda and a hand-over for operators; not in the skeleton.',
  );
  acknowledge(
    stack.keySecrets.encryptionKey,
    'AwsSolutions-SMG4',
    'Data already in the ledger is encrypted under this key; rotation needs key versioning and re-encryption, not in the skeleton.',
  );
}

function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}
