/**
 * cdk-nag (v3: a CDK policy-validation plugin, not an Aspect) and every finding Sluice accepts
 * on purpose, each with its reason. Acknowledgements are per construct, so a new resource of the
 * same kind is checked afresh.
 */
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { SluiceStack } from './sluice-stack.ts';

/** Registers the AwsSolutions pack on the app (synth fails on unacknowledged errors) and the acknowledgements. */
export function applyNagChecks(app: App, stack: SluiceStack): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  acknowledgeNagFindings(stack);
}

/** Every acknowledgement, by rule: the construct it covers and why. Exported so tests can list them. */
export function nagAcknowledgements(stack: SluiceStack): readonly { scope: IConstruct; id: string; reason: string }[] {
  return [
    ...[...stack.functions.values()].map((sluiceFunction) => ({
      scope: sluiceFunction as IConstruct,
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to nodejs22.x on purpose: the deployment contract names it, and the local stack and its dependencies ' +
        '(middy 7, fauxqs) run on Node 22; moving runtimes is a deliberate upgrade, tested locally first.',
    })),
    ...[...stack.deliveryPipeline.streamConsumers].map(([name, sluiceFunction]) => ({
      scope: sluiceFunction.role as IConstruct,
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        `dynamodb:ListStreams alone, granted by the ${name} stream event source as Lambda requires it: the action supports no ` +
        'resource-level permissions (IAM grants it on "*" only) and returns stream ARNs, no data. Reading the stream ' +
        '(DescribeStream, GetRecords, GetShardIterator) is granted on the ledger stream ARN only.',
    })),
    // Active tracing (the `tracing` context key): CDK grants each function's role the two X-Ray writes.
    ...(stack.config.tracing ? [...stack.functions.values()] : []).map((sluiceFunction) => ({
      scope: sluiceFunction.role as IConstruct,
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'xray:PutTraceSegments and xray:PutTelemetryRecords, granted by Lambda active tracing (the tracing context key): ' +
        'X-Ray supports no resource-level permissions for them, so IAM grants them on "*" only. They write trace data and read nothing.',
    })),
    ...[...stack.storage.failureQueues.values()].map((failureQueue) => ({
      scope: failureQueue.queue as IConstruct,
      id: 'AwsSolutions-SQS3',
      reason:
        `${failureQueue.description.id} is itself a dead-letter queue: the on-failure destination of the ${failureQueue.consumer} ` +
        'stream event source (a DestinationConfig, which the rule does not look for). Nothing consumes it, so a DLQ of its ' +
        'own would never receive anything; an alarm fires on any message in it.',
    })),
    {
      scope: stack.storage.rootKeyVerifier,
      id: 'AwsSolutions-SMG4',
      reason:
        "The root key's verifier holds no secret (SHA-256 hashes of keys of over 256 random bits) and has nothing of its own " +
        'to rotate: it follows the root key, whose rotation (every rootKeyRotationDays) rewrites it in finishSecret.',
    },
    {
      scope: stack.api.httpApi,
      id: 'AwsSolutions-APIG4',
      reason:
        'Every route authenticates the caller itself with a Sluice API key (Authorization: Bearer, or the inbound key of ' +
        'the hooks) in the Lambda, as the API contract specifies; get-openapi and get-portal (a static page that signs in with a portal session token) are public on purpose, and so is the ' +
        '$default route, which answers 404 or 405 from the route table and reads nothing.',
    },
  ];
}

export function acknowledgeNagFindings(stack: SluiceStack): void {
  for (const { scope, id, reason } of nagAcknowledgements(stack)) Validations.of(scope).acknowledge({ id, reason });
}
