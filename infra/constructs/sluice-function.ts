import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { FunctionDescription } from '../description.ts';
import type { Ledger } from './ledger.ts';

export interface SluiceFunctionProps {
  readonly description: FunctionDescription;
  readonly environment: Readonly<Record<string, string>>;
  readonly logRetention: logs.RetentionDays;
}

/** Everything a function may touch besides its own logs (and its event source, granted by CDK). */
export interface FunctionAccess {
  readonly ledger?: { readonly ledger: Ledger; readonly mode: 'read' | 'readWrite' };
  readonly sendTo?: readonly sqs.IQueue[];
  readonly readSecrets?: readonly secretsmanager.ISecret[];
}

/** `create-message` -> `CreateMessage`: construct ids that read like the function they hold. */
export function constructIdFor(functionName: string): string {
  return functionName
    .split(/[^a-zA-Z0-9]+/)
    .filter((part) => part.length > 0)
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join('');
}

/**
 * The house Lambda: `functions/<name>.ts` bundled by the local esbuild into one ESM file, on
 * Node 22 / arm64, with its own log group. Paths come from `process.cwd()` because cdk and jest
 * both run at the repository root (and jest compiles to CommonJS, so no `import.meta`).
 */
export class SluiceFunction extends Construct {
  readonly lambdaFunction: NodejsFunction;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: SluiceFunctionProps) {
    super(scope, id);
    const { description } = props;
    const repositoryRoot = process.cwd();

    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention: props.logRetention });

    this.lambdaFunction = new NodejsFunction(this, 'Function', {
      entry: path.join(repositoryRoot, 'functions', `${description.name}.ts`),
      handler: 'handler',
      projectRoot: repositoryRoot,
      depsLockFilePath: path.join(repositoryRoot, 'package-lock.json'),
      description: `Sluice ${description.name}`,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: Duration.seconds(description.timeoutSeconds),
      memorySize: description.memoryMb,
      logGroup: this.logGroup,
      // X-Ray would need `xray:Put*` on Resource "*"; Powertools metrics and logs cover the need.
      tracing: lambda.Tracing.DISABLED,
      environment: { ...props.environment },
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        target: 'node22',
        minify: true,
        sourceMap: true,
        // The Lambda Node 22 runtime ships AWS SDK v3.
        externalModules: ['@aws-sdk/*'],
        // CommonJS dependencies bundled into ESM still call `require`.
        banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
      },
    });
  }

  /** Grants exactly the listed access, each scoped to the resource's own ARN. */
  grantAccess(access: FunctionAccess): void {
    const principal = this.lambdaFunction;
    if (access.ledger) {
      if (access.ledger.mode === 'read') access.ledger.ledger.grantReadData(principal);
      else access.ledger.ledger.grantReadWriteData(principal);
    }
    for (const queue of access.sendTo ?? []) queue.grantSendMessages(principal);
    for (const secret of access.readSecrets ?? []) secret.grantRead(principal);
  }
}
