import { Stack } from 'aws-cdk-lib';
import * as xray from 'aws-cdk-lib/aws-xray';
import { Construct } from 'constructs';

/**
 * What the functions' Powertools Tracer reads (functions/lib/edge/observability.ts), added to every
 * function's environment with the `tracing` context key on. A function whose environment turns the
 * tracer on gets active X-Ray tracing too (infra/constructs/sluice-function.ts), so the two never disagree.
 */
export const tracingEnvironment = {
  POWERTOOLS_TRACE_ENABLED: 'true',
  // No handler response in a trace: it may hold a payload or a revealed key.
  POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
  // No outbound HTTP subsegments: they would record tenants' endpoint URLs and send them a trace header.
  POWERTOOLS_TRACER_CAPTURE_HTTPS_REQUESTS: 'false',
} as const;

export function tracesFunctions(environment: Readonly<Record<string, string>>): boolean {
  return environment.POWERTOOLS_TRACE_ENABLED === tracingEnvironment.POWERTOOLS_TRACE_ENABLED;
}

export interface TracingSamplingProps {
  readonly stage: string;
  /** The share of invocations recorded beyond the reservoir (0 to 1). */
  readonly sampleRate: number;
}

/** Reservoir: traces a second recorded before the rate applies, so a quiet deployment still shows some. */
export const TRACING_RESERVOIR_PER_SECOND = 1;

/**
 * The X-Ray sampling rule of the stack's functions. X-Ray matches it against the name of the
 * service a trace starts in, which for a Lambda function is the function's name: CloudFormation
 * names every Sluice function `<stack name>-…`, hence the pattern (the Powertools service name,
 * `sluice`, is only an annotation). A trace that starts upstream keeps the upstream decision.
 */
export class TracingSampling extends Construct {
  readonly rule: xray.CfnSamplingRule;

  constructor(scope: Construct, id: string, props: TracingSamplingProps) {
    super(scope, id);
    this.rule = new xray.CfnSamplingRule(this, 'Rule', {
      samplingRule: {
        // At most 32 characters: the stage has at most 20 (infra/config.ts).
        ruleName: `sluice-${props.stage}`,
        // Before the account's Default rule (10000), after any rule an operator adds with a lower number.
        priority: 1000,
        fixedRate: props.sampleRate,
        reservoirSize: TRACING_RESERVOIR_PER_SECOND,
        serviceName: `${Stack.of(this).stackName}-*`,
        serviceType: '*',
        host: '*',
        httpMethod: '*',
        urlPath: '*',
        resourceArn: '*',
        version: 1,
      },
    });
  }
}
