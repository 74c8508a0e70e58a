/** Test-side handle on the shared local stack: an HTTP client for the API and SDK clients. */
import { readFileSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface QueueInfo {
  readonly url: string;
  readonly arn: string;
  readonly deadLetterUrl: string;
  readonly deadLetterArn: string;
}

export interface TestStack {
  readonly pids: { readonly sqs?: number; readonly dynamodb?: number };
  readonly apiUrl: string;
  readonly rootKey: string;
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  readonly queues: { readonly fanOut: QueueInfo; readonly delivery: QueueInfo; readonly retry: QueueInfo };
}

export function testStack(): TestStack {
  const raw = process.env.SLUICE_TEST_STACK;
  if (!raw) throw new Error('no local stack: run integration tests through jest (globalSetup starts it)');
  return JSON.parse(raw) as TestStack;
}

export function stackLogText(): string {
  return readFileSync(process.env.SLUICE_TEST_STACK_LOG ?? '', 'utf8');
}

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

export function sqsClient(stack = testStack()): SQSClient {
  return new SQSClient({ endpoint: stack.sqsEndpoint, region: 'us-east-1', credentials, useQueueUrlAsEndpoint: false });
}

export function ledgerClient(stack = testStack()): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: stack.dynamodbEndpoint, region: 'us-east-1', credentials }));
}

export interface ApiResponse<T = Record<string, unknown>> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

/** A thin JSON client for the Sluice API. `body` may be a string to send it unchanged. */
export async function call<T = Record<string, unknown>>(
  method: string,
  route: string,
  options: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const { apiUrl } = testStack();
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  if (options.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const response = await fetch(`${apiUrl}${route}`, {
    method,
    headers,
    ...(options.body !== undefined && { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T, headers: response.headers };
}

export interface TestTenant {
  readonly id: string;
  readonly key: string;
}

let tenantCounter = 0;

/** A fresh tenant per test keeps tests independent on the shared stack. */
export async function createTenant(name = `test-tenant-${++tenantCounter}`): Promise<TestTenant> {
  const response = await call<{ id: string; apiKey: string }>('POST', '/v1/tenants', { key: testStack().rootKey, body: { name } });
  if (response.status !== 201) throw new Error(`tenant creation answered ${response.status}: ${JSON.stringify(response.body)}`);
  return { id: response.body.id, key: response.body.apiKey };
}

export async function createKey(tenant: TestTenant, scopes: string[]): Promise<string> {
  const response = await call<{ key: string }>('POST', '/v1/api-keys', {
    key: tenant.key,
    body: { name: `key ${scopes.join(',')}`, scopes },
  });
  if (response.status !== 201) throw new Error(`key creation answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body.key;
}

export async function putEventType(tenant: TestTenant, name: string, schema?: Record<string, unknown>): Promise<void> {
  const response = await call('PUT', `/v1/event-types/${name}`, {
    key: tenant.key,
    body: { description: name, ...(schema && { schema }) },
  });
  if (response.status !== 201 && response.status !== 200)
    throw new Error(`event type answered ${response.status}: ${JSON.stringify(response.body)}`);
}

export interface CreatedEndpoint {
  readonly id: string;
  readonly secret: string;
  readonly [field: string]: unknown;
}

export async function createEndpoint(tenant: TestTenant, body: Record<string, unknown>): Promise<CreatedEndpoint> {
  const response = await call<CreatedEndpoint>('POST', '/v1/endpoints', { key: tenant.key, body });
  if (response.status !== 201) throw new Error(`endpoint creation answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}

export async function postMessage(
  tenant: TestTenant,
  type: string,
  payload: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ id: string; type: string; createdAt: string }> {
  const response = await call<{ id: string; type: string; createdAt: string }>('POST', '/v1/messages', {
    key: tenant.key,
    body: { type, payload },
    headers,
  });
  if (response.status !== 202) throw new Error(`message answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}

/** Polls until `check` returns a value (not undefined) or the time runs out. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
