/** cdk-nag AwsSolutions: zero unacknowledged errors, every acknowledgement reasoned and still needed. */
import { AwsSolutionsChecks } from 'cdk-nag';
import { acknowledgeNagFindings, applyNagChecks, nagAcknowledgements } from '#infra/nag-suppressions';
import { createSluiceStack, synthTimeoutMs } from './support.ts';

interface Finding {
  readonly rule: string;
  readonly severity: string;
  readonly path: string;
}

function findings(acknowledged: boolean, context: Record<string, unknown> = {}): Finding[] {
  const { app, stack } = createSluiceStack(context);
  if (acknowledged) acknowledgeNagFindings(stack);
  return new AwsSolutionsChecks(app).validateScope(stack).violations.flatMap((violation) =>
    violation.violatingResources.map((violating) => ({
      rule: violation.ruleName,
      severity: String(violation.severity),
      path: String(violating.constructPath),
    })),
  );
}

describe('cdk-nag AwsSolutions', () => {
  test(
    'reports no unacknowledged error or warning, with the optional features on too',
    () => {
      expect(findings(true)).toEqual([]);
      expect(
        findings(true, {
          alarmEmail: 'ops@example.com',
          domainName: 'hooks.example.com',
          certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc-123',
          deliverReservedConcurrency: '60',
          tracing: 'true',
        }),
      ).toEqual([]);
    },
    synthTimeoutMs,
  );

  test(
    'every acknowledgement has a reason and covers a finding that would otherwise be reported',
    () => {
      const { stack } = createSluiceStack();
      const raw = findings(false);
      const acknowledgements = nagAcknowledgements(stack);
      expect(new Set(acknowledgements.map((ack) => ack.id))).toEqual(
        new Set(['AwsSolutions-L1', 'AwsSolutions-APIG4', 'AwsSolutions-IAM5[Resource::*]', 'AwsSolutions-SQS3', 'AwsSolutions-SMG4']),
      );
      // The wildcard and the missing DLQ are acknowledged on the stream consumers' roles and failure queues only.
      const pathsOf = (id: string) => acknowledgements.filter((ack) => ack.id === id).map((ack) => ack.scope.node.path);
      expect(pathsOf('AwsSolutions-IAM5[Resource::*]')).toEqual(['Sluice/DeliveryPipeline/Dispatch/Role']);
      expect(pathsOf('AwsSolutions-SQS3')).toEqual(['Sluice/Storage/DispatchFailureQueue']);
      // Both keys rotate (infra/constructs/key-rotation.ts): SMG4 reports only the root key's verifier, which follows the root key.
      expect(raw.filter((f) => f.rule === 'AwsSolutions-SMG4').map((f) => f.path)).toEqual(['Sluice/Storage/RootKeyVerifier/Resource']);
      expect(pathsOf('AwsSolutions-SMG4')).toEqual(['Sluice/Storage/RootKeyVerifier']);
      // Without acknowledgements, those are the only findings of their rules.
      expect(raw.filter((f) => f.rule.startsWith('AwsSolutions-IAM5') || f.rule === 'AwsSolutions-SQS3')).toEqual([
        expect.objectContaining({ rule: 'AwsSolutions-SQS3', path: 'Sluice/Storage/DispatchFailureQueue/Resource' }),
        expect.objectContaining({
          rule: 'AwsSolutions-IAM5[Resource::*]',
          path: 'Sluice/DeliveryPipeline/Dispatch/Role/DefaultPolicy/Resource',
        }),
      ]);
      for (const { scope, id, reason } of acknowledgements) {
        expect(reason.length).toBeGreaterThan(60);
        const prefix = `${scope.node.path}/`;
        expect({ id, scope: scope.node.path, covers: raw.some((f) => f.rule === id && f.path.startsWith(prefix)) }).toEqual({
          id,
          scope: scope.node.path,
          covers: true,
        });
      }
    },
    synthTimeoutMs,
  );

  test(
    'synth passes with the pack registered the way infra/app.ts does it',
    () => {
      const { app, stack } = createSluiceStack({ nag: true });
      applyNagChecks(app, stack);
      // The policy-validation framework throws from synth when a plugin reports a failure.
      expect(() => app.synth()).not.toThrow();
    },
    synthTimeoutMs,
  );
});
