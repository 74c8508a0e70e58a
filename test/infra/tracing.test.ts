/**
 * X-Ray tracing behind the `tracing` context key (infra/constructs/tracing.ts): off by default with
 * no trace of X-Ray in the template; on, every function active with the tracer's environment, the
 * X-Ray writes acknowledged to cdk-nag, and one sampling rule at the configured rate.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { TRACING_RESERVOIR_PER_SECOND, tracingEnvironment } from '#infra/constructs/tracing';
import { acknowledgeNagFindings, nagAcknowledgements } from '#infra/nag-suppressions';
import type { SluiceStack } from '#infra/sluice-stack';
import { actionsOf, createSluiceStack, environmentOf, logicalIdOf, resourcesOfType, statementsOf, synthTimeoutMs } from './support.ts';

function synth(context: Record<string, unknown>): { stack: SluiceStack; template: Template } {
  const { stack } = createSluiceStack(context);
  return { stack, template: Template.fromStack(stack) };
}

/** Every IAM statement of the template that names an X-Ray action, with the roles its policy is attached to. */
function xrayStatements(template: Template): { actions: string[]; resource: unknown; roles: string[] }[] {
  return Object.values(resourcesOfType(template, 'AWS::IAM::Policy')).flatMap((policy) =>
    statementsOf(policy.Properties?.PolicyDocument)
      .filter((statement) => actionsOf(statement).some((action) => action.startsWith('xray:')))
      .map((statement) => ({
        actions: actionsOf(statement),
        resource: statement.Resource,
        roles: ((policy.Properties?.Roles as { Ref: string }[] | undefined) ?? []).map((role) => role.Ref),
      })),
  );
}

describe('tracing', () => {
  test(
    'off by default: no tracing config, no X-Ray permission, no sampling rule, no tracer environment',
    () => {
      const { stack, template } = synth({});
      expect(stack.config).toMatchObject({ tracing: false, tracingSampleRate: 0.05 });
      const functions = Object.entries(resourcesOfType(template, 'AWS::Lambda::Function'));
      expect(functions).toHaveLength(stack.functions.size);
      for (const [logicalId, fn] of functions) {
        const mode = (fn.Properties?.TracingConfig as { Mode?: string } | undefined)?.Mode;
        expect({ logicalId, mode: mode ?? 'absent' }).toEqual({ logicalId, mode: expect.stringMatching(/^(absent|PassThrough)$/) });
        const variables = environmentOf(template, logicalId);
        for (const name of Object.keys(tracingEnvironment)) expect(variables).not.toHaveProperty(name);
      }
      expect(JSON.stringify(template.toJSON())).not.toMatch(/xray:/i);
      template.resourceCountIs('AWS::XRay::SamplingRule', 0);
      expect(stack.tracing).toBeUndefined();
    },
    synthTimeoutMs,
  );

  test(
    'on: every function active with the tracer environment, and X-Ray writes for its role alone',
    () => {
      const { stack, template } = synth({ tracing: 'true' });
      const functions = resourcesOfType(template, 'AWS::Lambda::Function');
      expect(Object.keys(functions)).toHaveLength(stack.functions.size);
      for (const [logicalId, fn] of Object.entries(functions)) {
        expect({ logicalId, tracing: fn.Properties?.TracingConfig }).toEqual({ logicalId, tracing: { Mode: 'Active' } });
        const variables = environmentOf(template, logicalId);
        expect(variables).toMatchObject({
          POWERTOOLS_TRACE_ENABLED: 'true',
          POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
          POWERTOOLS_TRACER_CAPTURE_HTTPS_REQUESTS: 'false',
          POWERTOOLS_SERVICE_NAME: 'sluice',
        });
      }
      // Exactly the two writes, on "*" (X-Ray's only resource form), once per function role.
      const statements = xrayStatements(template);
      for (const statement of statements) {
        expect(statement).toEqual({
          actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
          resource: '*',
          roles: [expect.any(String)],
        });
      }
      const roles = [...stack.functions.values()].map((fn) => logicalIdOf(fn.role)).sort();
      expect(statements.flatMap((statement) => statement.roles).sort()).toEqual(roles);
    },
    synthTimeoutMs,
  );

  test(
    'on: one sampling rule for the stack functions at the configured rate, with a small reservoir',
    () => {
      const { template } = synth({ tracing: 'true', tracingSampleRate: '0.2', stage: 'prod' });
      template.resourceCountIs('AWS::XRay::SamplingRule', 1);
      template.hasResourceProperties('AWS::XRay::SamplingRule', {
        SamplingRule: {
          RuleName: 'sluice-prod',
          FixedRate: 0.2,
          ReservoirSize: TRACING_RESERVOIR_PER_SECOND,
          // The functions are named `<stack name>-…` by CloudFormation; the test stack is `Sluice`.
          ServiceName: 'Sluice-*',
          ServiceType: '*',
          Host: '*',
          HTTPMethod: '*',
          URLPath: '*',
          ResourceARN: '*',
          Priority: 1000,
          Version: 1,
        },
      });
      expect(TRACING_RESERVOIR_PER_SECOND).toBeLessThanOrEqual(1);
      // The default rate when only the switch is given.
      synth({ tracing: 'true' }).template.hasResourceProperties('AWS::XRay::SamplingRule', { SamplingRule: { FixedRate: 0.05 } });
    },
    synthTimeoutMs,
  );

  test(
    'on: cdk-nag is clean, and the X-Ray acknowledgement covers a finding on every function role',
    () => {
      const { app, stack } = createSluiceStack({ tracing: 'true' });
      const raw = new AwsSolutionsChecks(app).validateScope(stack).violations;
      const xrayAcks = nagAcknowledgements(stack).filter((ack) => ack.reason.includes('xray:PutTraceSegments'));
      expect(xrayAcks.map((ack) => ack.scope.node.path).sort()).toEqual(
        [...stack.functions.values()].map((fn) => fn.role.node.path).sort(),
      );
      for (const ack of xrayAcks) {
        expect(ack.id).toBe('AwsSolutions-IAM5[Resource::*]');
        const prefix = `${ack.scope.node.path}/`;
        const covered = raw.some(
          (violation) =>
            violation.ruleName === ack.id && violation.violatingResources.some((found) => String(found.constructPath).startsWith(prefix)),
        );
        expect({ scope: ack.scope.node.path, covered }).toEqual({ scope: ack.scope.node.path, covered: true });
      }

      acknowledgeNagFindings(stack);
      expect(new AwsSolutionsChecks(app).validateScope(stack).violations).toEqual([]);
    },
    synthTimeoutMs,
  );

  test('off: no X-Ray acknowledgement', () => {
    const { stack } = createSluiceStack();
    expect(nagAcknowledgements(stack).filter((ack) => ack.reason.includes('xray:'))).toEqual([]);
  });
});
