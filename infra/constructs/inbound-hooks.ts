import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { routeSpecs } from '../../functions/lib/api/routes.ts';
import { envNames } from '../../functions/lib/env-names.ts';
import type { ApiFunctionDescription } from '../description.ts';
import type { IngestApi } from './ingest-api.ts';
import { constructIdFor, SluiceFunction } from './sluice-function.ts';

/** Read by the hook functions only (`functions/lib/env.ts`); not in `envNames`, which the local stack shares. */
export const hookRateLimitEnvName = envNames.hookRateLimitPerSecond;

/** The routes third parties call with an inbound key: the ones declared with a `hookKey`. */
export const hookRouteNames: readonly string[] = routeSpecs.filter((spec) => spec.hookKey !== undefined).map((spec) => spec.name);

export interface InboundHooksProps {
  readonly api: IngestApi;
  /** Exactly the routes named in `hookRouteNames`. */
  readonly routes: readonly ApiFunctionDescription[];
  readonly environment: Readonly<Record<string, string>>;
  readonly logRetention: logs.RetentionDays;
  /** Triggers a second per inbound key before the hook answers 429. */
  readonly rateLimitPerSecond: number;
}

/**
 * Inbound webhooks: `POST /v1/hooks` and `GET /v1/hooks`, on the same HTTP API (and custom
 * domain) as the rest of Sluice, each with its own function. They are apart from the management
 * routes because they face devices and third-party services rather than tenants' back ends: their
 * own per-key rate limit, and their own grants (they create deliveries and enqueue their jobs).
 */
export class InboundHooks extends Construct {
  /** Hook functions by route name. */
  readonly functions: ReadonlyMap<string, SluiceFunction>;

  constructor(scope: Construct, id: string, props: InboundHooksProps) {
    super(scope, id);
    const names = props.routes.map((route) => route.name).sort();
    if (JSON.stringify(names) !== JSON.stringify([...hookRouteNames].sort())) {
      throw new Error(`InboundHooks serves ${hookRouteNames.join(', ')}; got ${names.join(', ')}`);
    }

    const functions = new Map<string, SluiceFunction>();
    for (const route of props.routes) {
      const hookFunction = new SluiceFunction(this, constructIdFor(route.name), {
        description: route,
        environment: { ...props.environment, [hookRateLimitEnvName]: String(props.rateLimitPerSecond) },
        logRetention: props.logRetention,
      });
      props.api.addLambdaRoute(route, hookFunction);
      functions.set(route.name, hookFunction);
    }
    this.functions = functions;
  }

  functionFor(routeName: string): SluiceFunction {
    const hookFunction = this.functions.get(routeName);
    if (!hookFunction) throw new Error(`No hook function named ${routeName}`);
    return hookFunction;
  }
}
