/**
 * CDK entry (`cdk.json`: `npx tsx infra/app.ts`). Context: `stage` (default `dev`), `nag` to run
 * the cdk-nag AwsSolutions checks, and the rest of `infra/config.ts`.
 */
import { App } from 'aws-cdk-lib';
import { readSluiceConfig } from './config.ts';
import { applyNagChecks } from './nag-suppressions.ts';
import { SluiceStack } from './sluice-stack.ts';

const app = new App();
const config = readSluiceConfig(app);
const stack = new SluiceStack(app, 'Sluice', {
  config,
  description: `Sluice serverless webhook platform (${config.stage})`,
});
if (config.nag) applyNagChecks(app, stack);
