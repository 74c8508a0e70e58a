import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { meterClient } from './usage-meter.ts';

export interface ClientOptions {
  readonly region: string;
  /** Set for the local stack (DynamoDB Local, fauxqs); absent in AWS. */
  readonly endpoint?: string;
}

export function documentClient(options: ClientOptions): DynamoDBDocumentClient {
  const client = meterClient(
    new DynamoDBClient({ region: options.region, ...(options.endpoint && { endpoint: options.endpoint }), maxAttempts: 5 }),
    'dynamodb',
  );
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}

export function sqsClient(options: ClientOptions): SQSClient {
  const client = new SQSClient({
    region: options.region,
    maxAttempts: 5,
    // Local queue URLs name a host (sqs.<region>.localhost) that need not resolve: send every
    // call to the configured endpoint instead of the URL's host.
    ...(options.endpoint && { endpoint: options.endpoint, useQueueUrlAsEndpoint: false }),
  });
  return meterClient(client, 'sqs');
}
