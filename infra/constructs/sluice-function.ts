import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { type ICommandHooks, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { bundleDefines, bundling } from '../bundling.ts';
import type { BuiltFile, FunctionDescription } from '../description.ts';
import { tracesFunctions } from './tracing.ts';

export interface SluiceFunctionProps {
  readonly description: FunctionDescription;
  readonly environment: Readonly<Record<string, string>>;
  readonly logRetention: logs.RetentionDays;
  /** Reserved concurrency (a ceiling and a guarantee); none unless configured. */
  readonly reservedConcurrency?: number;
}

/** Shell commands that write a function's built files beside its bundle (the portal's page), from the repository root. */
export function builtFileCommands(repositoryRoot: string, files: readonly BuiltFile[], outputDir: string): string[] {
  const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
  return files.map(
    (built) => `cd ${quote(repositoryRoot)} && node --import tsx ${quote(built.script)} ${quote(path.join(outputDir, built.file))}`,
  );
}

function builtFileHooks(repositoryRoot: string, files: readonly BuiltFile[]): ICommandHooks {
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (_inputDir, outputDir) => builtFileCommands(repositoryRoot, files, outputDir),
  };
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
 * The house Lambda: `functions/<name>.ts` bundled by the local esbuild into one minified ESM
 * file, on Node 22 / arm64, with its own log group and its own role. The role starts empty but
 * for writing that log group (no AWSLambdaBasicExecutionRole, which may write any log group in
 * the account); everything else is granted from infra/access.ts. Paths come from
 * `process.cwd()` because cdk and jest both run at the repository root (and jest compiles to
 * CommonJS, so no `import.meta`).
 */
export class SluiceFunction extends Construct {
  readonly lambdaFunction: NodejsFunction;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;
  readonly description: FunctionDescription;

  constructor(scope: Construct, id: string, props: SluiceFunctionProps) {
    super(scope, id);
    const { description } = props;
    this.description = description;
    const repositoryRoot = process.cwd();

    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention: props.logRetention });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Sluice ${description.name}`,
    });
    // CreateLogStream and PutLogEvents on this log group (its ARN ends in `:*`, the streams).
    this.logGroup.grantWrite(this.role);

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
      role: this.role,
      logGroup: this.logGroup,
      ...(props.reservedConcurrency !== undefined && { reservedConcurrentExecutions: props.reservedConcurrency }),
      // Active only with the `tracing` context key (its environment turns the tracer on): X-Ray then
      // needs xray:PutTraceSegments and PutTelemetryRecords on "*", which CDK grants. Off, no X-Ray at all.
      tracing: tracesFunctions(props.environment) ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      environment: {
        ...props.environment,
        // Stack traces point into the TypeScript sources (the map ships next to the bundle).
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        mainFields: [...bundling.mainFields],
        target: bundling.target,
        minify: bundling.minify,
        sourceMap: true,
        // File and line mappings only: the sources themselves would triple the asset for nothing.
        sourcesContent: false,
        externalModules: [...bundling.external],
        banner: bundling.banner,
        define: bundleDefines(props.environment),
        ...(description.builtFiles && { commandHooks: builtFileHooks(repositoryRoot, description.builtFiles) }),
      },
    });
  }
}
