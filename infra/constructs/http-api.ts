import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { ApiFunctionDescription } from '../description.ts';
import { constructIdFor, SluiceFunction } from './sluice-function.ts';

export interface SluiceHttpApiProps {
  readonly stage: string;
  readonly routes: readonly ApiFunctionDescription[];
  readonly environment: Readonly<Record<string, string>>;
  readonly logRetention: logs.RetentionDays;
}

const httpMethods: Readonly<Record<string, apigwv2.HttpMethod>> = {
  GET: apigwv2.HttpMethod.GET,
  POST: apigwv2.HttpMethod.POST,
  PUT: apigwv2.HttpMethod.PUT,
  PATCH: apigwv2.HttpMethod.PATCH,
  DELETE: apigwv2.HttpMethod.DELETE,
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
 * The public Sluice API (management and message ingest): one HTTP API route and one Lambda per
 * entry of the route table. Callers authenticate with Sluice API keys, checked in the Lambda.
 */
export class SluiceHttpApi extends Construct {
  readonly httpApi: apigwv2.HttpApi;
  readonly defaultStage: apigwv2.HttpStage;
  readonly accessLogGroup: logs.LogGroup;
  /** Route functions by route name (`functions/<name>.ts`). */
  readonly functions: ReadonlyMap<string, SluiceFunction>;

  constructor(scope: Construct, id: string, props: SluiceHttpApiProps) {
    super(scope, id);

    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      apiName: `sluice-${props.stage}`,
      description: 'Sluice webhook API',
      // Created below, so it can carry throttling and access logging.
      createDefaultStage: false,
    });

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    this.defaultStage = this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { burstLimit: 200, rateLimit: 100 },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: accessLogFormat,
      },
    });

    const functions = new Map<string, SluiceFunction>();
    for (const route of props.routes) {
      const method = httpMethods[route.method];
      if (method === undefined) throw new Error(`Route ${route.name}: unsupported HTTP method ${route.method}`);
      if (functions.has(route.name)) throw new Error(`Route ${route.name} appears twice in the route table`);

      const routeFunction = new SluiceFunction(this, constructIdFor(route.name), {
        description: route,
        environment: props.environment,
        logRetention: props.logRetention,
      });
      functions.set(route.name, routeFunction);

      this.httpApi.addRoutes({
        path: route.path,
        methods: [method],
        integration: new HttpLambdaIntegration(`${constructIdFor(route.name)}Integration`, routeFunction.lambdaFunction),
      });
    }
    this.functions = functions;
  }

  /** The route's function; throws when the route table has no such route (e.g. after a rename). */
  functionFor(routeName: string): SluiceFunction {
    const routeFunction = this.functions.get(routeName);
    if (!routeFunction) throw new Error(`No API function named ${routeName}`);
    return routeFunction;
  }
}
