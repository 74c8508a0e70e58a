import { Duration, Lazy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { corsPolicy, methodsOf } from '../../functions/lib/api/route-table.ts';
import type { ApiFunctionDescription, FunctionDescription } from '../description.ts';
import { constructIdFor, SluiceFunction } from './sluice-function.ts';

export interface CustomDomain {
  readonly domainName: string;
  readonly certificateArn: string;
}

export interface IngestApiProps {
  readonly stage: string;
  /** The routes this construct serves with its own functions (all but the inbound hooks). */
  readonly routes: readonly ApiFunctionDescription[];
  /** The `$default` route's function: answers every request no route takes (`functions/no-route.ts`). */
  readonly defaultRoute: FunctionDescription;
  readonly environment: Readonly<Record<string, string>>;
  /** The `$default` route function's environment: the shared one plus the route list it answers from. */
  readonly defaultRouteEnvironment: Readonly<Record<string, string>>;
  readonly logRetention: logs.RetentionDays;
  readonly customDomain?: CustomDomain;
  /** Browser origins allowed by CORS; none: API Gateway answers no preflight. */
  readonly corsOrigins?: readonly string[];
  /** Per-route throttles, by class (`throttleClassOf`). */
  readonly throttles: Readonly<Record<ThrottleClass, Throttle>>;
}

export interface Throttle {
  /** Steady requests a second, for all callers of the route together. */
  readonly rateLimit: number;
  /** How far above the rate a burst may go (API Gateway's token bucket). */
  readonly burstLimit: number;
}

/** The throttle classes of the API's routes (see `throttleClassOf`). */
export type ThrottleClass = 'ingest' | 'hooks' | 'read' | 'manage' | 'unrouted';

/**
 * A route's throttle class, from its method and path: `POST /v1/messages` ingests, the inbound
 * hooks trigger actions, GET and HEAD read, other methods manage. One rule, so every route of
 * the table (and any route added later) has an explicit throttle in the template.
 */
export function throttleClassOf(method: string, path: string): ThrottleClass {
  if (path === '/v1/hooks') return 'hooks';
  if (method === 'POST' && path === '/v1/messages') return 'ingest';
  return method === 'GET' || method === 'HEAD' ? 'read' : 'manage';
}

/**
 * The stage's default route throttle: the tightest class, for any route key without its own
 * (there is none: every route gets explicit settings). API Gateway answers 429 beyond a route's
 * throttle before any Lambda runs; the limits are per route for all callers, not per caller.
 */
export const stageDefaultThrottle = (throttles: Readonly<Record<ThrottleClass, Throttle>>): Throttle => throttles.unrouted;

const httpMethods: Readonly<Record<string, apigwv2.HttpMethod>> = {
  GET: apigwv2.HttpMethod.GET,
  POST: apigwv2.HttpMethod.POST,
  PUT: apigwv2.HttpMethod.PUT,
  PATCH: apigwv2.HttpMethod.PATCH,
  DELETE: apigwv2.HttpMethod.DELETE,
  HEAD: apigwv2.HttpMethod.HEAD,
};

/** HTTP API variables only (the REST API's `AccessLogField` helpers name some that do not exist here). */
const accessLogFormat = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    sourceIp: '$context.identity.sourceIp',
    requestTime: '$context.requestTime',
    routeKey: '$context.routeKey',
    status: '$context.status',
    protocol: '$context.protocol',
    responseLength: '$context.responseLength',
    responseLatency: '$context.responseLatency',
    integrationLatency: '$context.integrationLatency',
    integrationError: '$context.integrationErrorMessage',
    error: '$context.error.message',
  }),
);

/**
 * The public Sluice HTTP API: management and message-ingest routes, one Lambda per route of the
 * route table, a `$default` route for everything else, on one `$default` stage with throttling
 * and JSON access logs, and optionally a custom domain. Callers authenticate with Sluice API
 * keys, checked in the Lambda. Other constructs (the inbound hooks) add their routes with
 * `addLambdaRoute`.
 */
export class IngestApi extends Construct {
  readonly httpApi: apigwv2.HttpApi;
  readonly defaultStage: apigwv2.HttpStage;
  readonly accessLogGroup: logs.LogGroup;
  readonly customDomain?: apigwv2.DomainName;
  /** Its functions by name (`functions/<name>.ts`): one per route, and the `$default` route's. */
  readonly functions: ReadonlyMap<string, SluiceFunction>;
  readonly defaultRouteFunction: SluiceFunction;
  private readonly routeKeys = new Set<string>();

  constructor(scope: Construct, id: string, props: IngestApiProps) {
    super(scope, id);

    this.defaultRouteFunction = new SluiceFunction(this, constructIdFor(props.defaultRoute.name), {
      description: props.defaultRoute,
      environment: props.defaultRouteEnvironment,
      logRetention: props.logRetention,
    });
    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      apiName: `sluice-${props.stage}`,
      description: 'Sluice webhook API',
      // An unknown path or a method the path lacks gets the API's JSON 404 or 405 (as locally), not
      // API Gateway's `{"message":"Not Found"}`. CORS preflights never reach it: with `corsPreflight`
      // set, API Gateway answers them itself, $default route or not.
      defaultIntegration: new HttpLambdaIntegration(
        `${constructIdFor(props.defaultRoute.name)}Integration`,
        this.defaultRouteFunction.lambdaFunction,
      ),
      // Created below, so it can carry throttling and access logging.
      createDefaultStage: false,
      ...(props.corsOrigins?.length && {
        corsPreflight: {
          allowOrigins: [...props.corsOrigins],
          allowMethods: corsPolicy.allowMethods.map((name) => apigwv2.CorsHttpMethod[name]),
          allowHeaders: [...corsPolicy.allowHeaders],
          exposeHeaders: [...corsPolicy.exposeHeaders],
          maxAge: Duration.seconds(corsPolicy.maxAgeSeconds),
        },
      }),
    });

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    this.defaultStage = this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: stageDefaultThrottle(props.throttles),
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: accessLogFormat,
      },
    });

    // Every route key, the hooks' included (added later by their construct), gets its class's throttle.
    const throttles = props.throttles;
    (this.defaultStage.node.defaultChild as apigwv2.CfnStage).routeSettings = Lazy.any({
      produce: () =>
        Object.fromEntries(
          [...this.routeKeys].map((routeKey) => {
            const [method = '', path = ''] = routeKey.split(' ');
            const throttle = routeKey === '$default' ? throttles.unrouted : throttles[throttleClassOf(method, path)];
            return [routeKey, { ThrottlingRateLimit: throttle.rateLimit, ThrottlingBurstLimit: throttle.burstLimit }];
          }),
        ),
    });
    this.routeKeys.add('$default');
    // A stage's route settings must name existing routes: CloudFormation creates the routes first.
    const defaultRoute = this.httpApi.node.tryFindChild('DefaultRoute');
    if (defaultRoute) this.defaultStage.node.addDependency(defaultRoute);

    if (props.customDomain) {
      this.customDomain = new apigwv2.DomainName(this, 'CustomDomain', {
        domainName: props.customDomain.domainName,
        certificate: acm.Certificate.fromCertificateArn(this, 'Certificate', props.customDomain.certificateArn),
        securityPolicy: apigwv2.SecurityPolicy.TLS_1_2,
      });
      new apigwv2.ApiMapping(this, 'CustomDomainMapping', {
        api: this.httpApi,
        domainName: this.customDomain,
        stage: this.defaultStage,
      });
    }

    const functions = new Map<string, SluiceFunction>([[props.defaultRoute.name, this.defaultRouteFunction]]);
    for (const route of props.routes) {
      if (functions.has(route.name)) throw new Error(`Route ${route.name} appears twice in the route table`);
      const routeFunction = new SluiceFunction(this, constructIdFor(route.name), {
        description: route,
        environment: props.environment,
        logRetention: props.logRetention,
      });
      this.addLambdaRoute(route, routeFunction);
      functions.set(route.name, routeFunction);
    }
    this.functions = functions;
  }

  /** Routes `METHOD path` to the function (Lambda proxy, payload 2.0); each route key once. */
  addLambdaRoute(route: ApiFunctionDescription, routeFunction: SluiceFunction): void {
    const methods = methodsOf(route.method).map((name) => {
      const method = httpMethods[name];
      if (method === undefined) throw new Error(`Route ${route.name}: unsupported HTTP method ${name}`);
      return method;
    });
    const routeKeys = methodsOf(route.method).map((method) => `${method} ${route.path}`);
    for (const routeKey of routeKeys) {
      if (this.routeKeys.has(routeKey)) throw new Error(`Route ${routeKey} is declared twice`);
      this.routeKeys.add(routeKey);
    }
    const routes = this.httpApi.addRoutes({
      path: route.path,
      methods,
      integration: new HttpLambdaIntegration(`${constructIdFor(route.name)}Integration`, routeFunction.lambdaFunction),
    });
    for (const added of routes) this.defaultStage.node.addDependency(added);
  }

  /** The route's function; throws when this construct serves no such route (e.g. after a rename). */
  functionFor(routeName: string): SluiceFunction {
    const routeFunction = this.functions.get(routeName);
    if (!routeFunction) throw new Error(`No API function named ${routeName}`);
    return routeFunction;
  }
}
