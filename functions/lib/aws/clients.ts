import { Agent as HttpAgent } from 'node:http';
import { Agent } from 'node:https';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { meterClient } from './usage-meter.ts';

export interface ClientOptions {
  readonly region: string;
  /** Set for the local stack (DynamoDB Local, fauxqs); absent in AWS. */
  readonly endpoint?: string;
  /**
   * The process's tracer when tracing is on (`loadTracer()` of edge/observability.ts): each call
   * becomes an X-Ray subsegment (service, operation, table or queue, status; never an item or a body).
   */
  readonly tracer?: Pick<Tracer, 'captureAWSv3Client'>;
}

function traced<T>(client: T, options: ClientOptions): T {
  return options.tracer ? options.tracer.captureAWSv3Client(client) : client;
}

/**
 * Keep-alive connections, enough of them for a batch's calls at once: a new TLS (or, locally,
 * TCP) connection per call costs more CPU than the call itself.
 */
function requestHandler() {
  const options = { keepAlive: true, maxSockets: 128 };
  return { httpAgent: new HttpAgent(options), httpsAgent: new Agent(options) };
}

export function dynamoClient(options: ClientOptions): DynamoDBClient {
  const client = new DynamoDBClient({
    region: options.region,
    ...(options.endpoint && { endpoint: options.endpoint }),
    maxAttempts: 5,
    requestHandler: requestHandler(),
  });
  return traced(meterClient(client, 'dynamodb'), options);
}

/** The document client the stores use; over `client` when given, so one connection pool serves every user of it. */
export function documentClient(options: ClientOptions, client: DynamoDBClient = dynamoClient(options)): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}

export function sqsClient(options: ClientOptions): SQSClient {
  const client = new SQSClient({
    region: options.region,
    maxAttempts: 5,
    requestHandler: requestHandler(),
    // Local queue URLs name a host (sqs.<region>.localhost) that need not resolve: send every
    // call to the configured endpoint instead of the URL's host.
    ...(options.endpoint && { endpoint: options.endpoint, useQueueUrlAsEndpoint: false }),
  });
  return traced(meterClient(client, 'sqs'), options);
}

/** The root key, its verifier and the data keyring (AWS only: the local stack reads them from the environment). */
export function secretsClient(options: Omit<ClientOptions, 'endpoint'>): SecretsManagerClient {
  return traced(meterClient(new SecretsManagerClient({ region: options.region }), 'secretsmanager'), options);
}
