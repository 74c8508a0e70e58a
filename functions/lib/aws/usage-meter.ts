/**
 * What `npm run bench` counts to put a price on a delivery: every AWS call by command, the
 * DynamoDB capacity each one consumed (tables and indexes), the SQS billing units, and each
 * Lambda invocation's duration. Inert until a meter is installed: in Lambda nothing installs one,
 * so the middleware is one global lookup per call and changes no request.
 */
import type { InitializeMiddleware, MiddlewareStack } from '@smithy/types';

export type MeteredService = 'dynamodb' | 'sqs' | 'secretsmanager';

export interface AwsCallRecord {
  readonly service: MeteredService;
  readonly command: string;
  /** DynamoDB read or write capacity units (tables and indexes), as the service reported them. */
  readonly readUnits: number;
  readonly writeUnits: number;
  /** SQS bills each 64 KiB chunk of a request's payload as one request. */
  readonly billedRequests: number;
  /** ReceiveMessage only: how many messages it returned. */
  readonly messages?: number;
  /** The call failed (a refused condition included). */
  readonly failed: boolean;
  readonly errorName?: string;
}

export interface InvocationRecord {
  readonly functionName: string;
  readonly memoryMb: number;
  readonly durationMs: number;
}

export interface UsageMeter {
  /** Ask DynamoDB for the capacity each call consumed (it costs the server a little, so only when measuring it). */
  readonly countCapacity: boolean;
  awsCall(record: AwsCallRecord): void;
  invocation(record: InvocationRecord): void;
}

const slot = Symbol.for('sluice.usageMeter');
type Global = typeof globalThis & { [slot]?: UsageMeter };

/** Installs (or, with undefined, removes) the process-wide meter. */
export function installUsageMeter(meter: UsageMeter | undefined): void {
  (globalThis as Global)[slot] = meter;
}

export function currentUsageMeter(): UsageMeter | undefined {
  return (globalThis as Global)[slot];
}

const readCommands = new Set(['GetItemCommand', 'BatchGetItemCommand', 'QueryCommand', 'ScanCommand', 'TransactGetItemsCommand']);
const writeCommands = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
]);
const SQS_CHUNK_BYTES = 64 * 1024;

interface Capacity {
  readonly CapacityUnits?: number;
}

function capacityUnits(output: unknown): number {
  const consumed = (output as { ConsumedCapacity?: Capacity | Capacity[] } | undefined)?.ConsumedCapacity;
  const list = Array.isArray(consumed) ? consumed : consumed ? [consumed] : [];
  return list.reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
}

function sqsBytes(command: string, input: Record<string, unknown>, output: unknown): number {
  if (command === 'SendMessageCommand') return String(input.MessageBody ?? '').length;
  if (command === 'SendMessageBatchCommand')
    return ((input.Entries as { MessageBody?: string }[] | undefined) ?? []).reduce((sum, e) => sum + (e.MessageBody?.length ?? 0), 0);
  if (command === 'ReceiveMessageCommand')
    return ((output as { Messages?: { Body?: string }[] } | undefined)?.Messages ?? []).reduce((sum, m) => sum + (m.Body?.length ?? 0), 0);
  return 0;
}

/** Adds the meter to a client's middleware stack (every client Sluice builds gets it). */
export function meterClient<I extends object, O extends object, T extends { middlewareStack: MiddlewareStack<I, O> }>(
  client: T & { middlewareStack: MiddlewareStack<I, O> },
  service: MeteredService,
): T {
  const middleware: InitializeMiddleware<I, O> = (next, context) => async (args) => {
    const meter = currentUsageMeter();
    if (!meter) return next(args);
    const command = String((context as { commandName?: string }).commandName ?? 'unknown');
    const input = (args as { input: Record<string, unknown> }).input;
    const metered = service === 'dynamodb' && (readCommands.has(command) || writeCommands.has(command));
    if (metered && meter.countCapacity) input.ReturnConsumedCapacity = 'INDEXES';
    const record = (output: unknown, error?: Error): void => {
      const units = capacityUnits(output);
      meter.awsCall({
        service,
        command: command.replace(/Command$/, ''),
        readUnits: readCommands.has(command) ? units : 0,
        // A refused conditional write still costs at least one unit; the error does not say how many.
        writeUnits: writeCommands.has(command) ? (error && units === 0 ? 1 : units) : 0,
        billedRequests: service === 'sqs' ? Math.max(1, Math.ceil(sqsBytes(command, input, output) / SQS_CHUNK_BYTES)) : 1,
        ...(command === 'ReceiveMessageCommand' && {
          messages: (output as { Messages?: unknown[] } | undefined)?.Messages?.length ?? 0,
        }),
        failed: error !== undefined,
        ...(error && { errorName: error.name }),
      });
    };
    try {
      const result = await next(args);
      record(result.output);
      return result;
    } catch (error) {
      record(undefined, error as Error);
      throw error;
    }
  };
  client.middlewareStack.add(middleware, { step: 'initialize', name: 'sluiceUsageMeter', override: true });
  return client;
}
