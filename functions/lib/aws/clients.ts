import { Agent as HttpAgent } from 'node:http';
import { Agent } from 'node:https';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { meterClient } from './usage-meter.ts';

export interface ClientOptions {
  readonly region: string;
  /** Set for the local stack (DynamoDB Local, fauxqs); absent in AWS. */
  readonly endpoint?: string;
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
  return meterClient(
    new DynamoDBClient({
      region: options.region,
      ...(options.endpoint && { endpoint: options.endpoint }),
      maxAttempts: 5,
      requestHandler: requestHandler(),
    }),
    'dynamodb',
  );
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
  return meterClient(client, 'sqs');
}
