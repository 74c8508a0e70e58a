import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';

/**
 * One logger, one metrics sink and (when tracing is on) one tracer per process. Log lines are JSON
 * (the CloudWatch delivery log); metrics are CloudWatch EMF; traces go to X-Ray. None of them ever
 * receives a key, a secret, a request header or a payload.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'sluice' });

export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'Sluice',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'sluice',
});

/**
 * Tracing is opt-in: the stack sets `POWERTOOLS_TRACE_ENABLED=true` only with the `tracing` context
 * key on. Powertools alone would trace by default in Lambda, and merely importing the X-Ray SDK
 * enables an async hook that slows every `await` in the process, so when tracing is off the
 * tracer is never loaded at all. The CDK bundles each function with this variable's deployed value
 * defined (infra/bundling.ts), so a function deployed without tracing does not even carry the
 * tracer (about 125 KB): the check below must stay written out where the import is.
 */
export const tracingEnabled = process.env.POWERTOOLS_TRACE_ENABLED === 'true';

type TraceMiddleware = ReturnType<typeof captureLambdaHandler>;

let loading: Promise<{ tracer: Tracer; middleware: TraceMiddleware } | undefined> | undefined;
let loaded: Tracer | undefined;

function loadTracing(): Promise<{ tracer: Tracer; middleware: TraceMiddleware } | undefined> {
  loading ??=
    process.env.POWERTOOLS_TRACE_ENABLED === 'true'
      ? Promise.all([import('@aws-lambda-powertools/tracer'), import('@aws-lambda-powertools/tracer/middleware')]).then(
          ([{ Tracer }, { captureLambdaHandler }]) => {
            // Outbound HTTP is left out: a subsegment would record tenants' endpoint URLs (which may
            // carry credentials in the path) and send them an X-Amzn-Trace-Id header.
            const tracer = new Tracer({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'sluice', captureHTTPsRequests: false });
            loaded = tracer;
            // Never the handler's response as metadata: it may hold a payload or a revealed key.
            return { tracer, middleware: captureLambdaHandler(tracer, { captureResponse: false }) };
          },
        )
      : Promise.resolve(undefined);
  return loading;
}

/** The process's tracer, loaded on first use; undefined when tracing is off. */
export async function loadTracer(): Promise<Tracer | undefined> {
  return (await loadTracing())?.tracer;
}

/**
 * The edge chains' first middleware: a subsegment per invocation with the cold-start and service
 * annotations. None (an empty list, so `.use()` adds nothing) when tracing is off.
 */
export function traceInvocations(): TraceMiddleware[] {
  if (!tracingEnabled) return [];
  let middleware: TraceMiddleware | undefined;
  return [
    {
      before: async (request) => {
        middleware ??= (await loadTracing())?.middleware;
        // Not returned: a value from a `before` would end the chain as the response.
        await middleware?.before?.(request);
      },
      after: async (request) => {
        await middleware?.after?.(request);
      },
      onError: async (request) => {
        await middleware?.onError?.(request);
      },
    },
  ];
}

/**
 * Annotates the current invocation's trace, searchable in X-Ray: ids only, never a payload, key or
 * secret. Nothing when tracing is off (the edge middleware has loaded the tracer otherwise).
 */
export function annotateTrace(annotations: Readonly<Record<string, string | undefined>>): void {
  if (!loaded) return;
  for (const [key, value] of Object.entries(annotations)) if (value !== undefined) loaded.putAnnotation(key, value);
}
