/**
 * The deployed portal: GET /portal is a public route of the HTTP API, served by get-portal, whose
 * bundle ships the page built by portal/build.ts (the bundling's after-bundling command, run here
 * as the CDK runs it).
 */
import { execSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { builtFileCommands } from '#infra/constructs/sluice-function';
import { apiFunctions } from '#infra/description';
import { createSluiceStack, logicalIdOf, resourcesOfType, statementsOf, synthTimeoutMs } from './support.ts';

describe('the deployed portal', () => {
  const { stack } = createSluiceStack();
  const template = Template.fromStack(stack);

  test(
    'GET /portal is a public route (no authorizer) integrated with get-portal, which holds no table, queue or secret',
    () => {
      const routes = Object.values(resourcesOfType(template, 'AWS::ApiGatewayV2::Route'));
      const portalRoutes = routes.filter((route) => String(route.Properties?.RouteKey).endsWith(' /portal'));
      expect(portalRoutes.map((route) => route.Properties?.RouteKey).sort()).toEqual(['GET /portal', 'HEAD /portal']);
      for (const route of portalRoutes) expect(route.Properties?.AuthorizationType ?? 'NONE').toBe('NONE');

      const portalFunction = stack.functions.get('get-portal');
      expect(portalFunction).toBeDefined();
      const functionId = logicalIdOf(portalFunction?.lambdaFunction ?? stack);
      const integrations = Object.values(resourcesOfType(template, 'AWS::ApiGatewayV2::Integration'));
      expect(
        integrations.some((i) => JSON.stringify(i.Properties?.IntegrationUri) === JSON.stringify({ 'Fn::GetAtt': [functionId, 'Arn'] })),
      ).toBe(true);
      // Its role may write its own log group, and nothing else.
      const policies = Object.values(resourcesOfType(template, 'AWS::IAM::Policy')).filter((policy) =>
        JSON.stringify(policy.Properties?.Roles).includes(logicalIdOf(portalFunction?.role ?? stack)),
      );
      const actions = policies.flatMap((policy) => statementsOf(policy.Properties?.PolicyDocument).flatMap((s) => [s.Action].flat()));
      expect([...new Set(actions)].sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    },
    synthTimeoutMs,
  );

  test('the stack names the portal in its outputs', () => {
    const stageUrl = stack.resolve(stack.api.defaultStage.url);
    const output = template.toJSON().Outputs?.PortalUrl as { Value: { 'Fn::Join': [string, unknown[]] } } | undefined;
    // The stage's URL (it ends in `/`), then `portal`: CloudFormation joins the two literals.
    const parts = [...stageUrl['Fn::Join'][1]];
    expect(output?.Value['Fn::Join'][1]).toEqual([...parts.slice(0, -1), `${parts.at(-1)}portal`]);
  });

  test('its bundle ships portal.html, built by the same command the CDK runs after bundling', () => {
    const description = apiFunctions.find((fn) => fn.name === 'get-portal');
    expect(description?.builtFiles).toEqual([{ file: 'portal.html', script: 'portal/build.ts' }]);
    const outputDir = mkdtempSync(path.join(tmpdir(), "sluice portal's bundle "));
    try {
      for (const command of builtFileCommands(process.cwd(), description?.builtFiles ?? [], outputDir))
        execSync(command, { stdio: 'pipe' });
      const page = readFileSync(path.join(outputDir, 'portal.html'), 'utf8');
      expect(page).toMatch(/^<!doctype html>/);
      // Self-contained under a strict policy: its one script and one stylesheet, by hash; API calls to its own origin.
      expect(page).toMatch(
        /content="default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'; style-src 'sha256-[A-Za-z0-9+/=]+'; connect-src 'self'/,
      );
      expect(page).not.toMatch(/<script[^>]+src=|<link[^>]+stylesheet/);
      // Only functions that need a bundle-side file get one.
      expect(apiFunctions.filter((fn) => fn.builtFiles).map((fn) => fn.name)).toEqual(['get-portal']);
    } finally {
      rmSync(outputDir, { recursive: true, force: true });
    }
  }, 60_000);
});
