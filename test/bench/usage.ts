/**
 * The bench's usage meter: installed process-wide (functions/lib/aws/usage-meter.ts), it sums
 * every AWS call the handlers and the local Lambda runtime make, the Lambda invocations with
 * their durations, the API requests, and the bytes the functions log (what CloudWatch Logs
 * would ingest). `reset()` starts a measurement; `totals()` reads it.
 */
import { type AwsCallRecord, type InvocationRecord, installUsageMeter, type UsageMeter } from '../../functions/lib/aws/usage-meter.ts';

export interface FunctionUsage {
  invocations: number;
  durationMs: number;
  gbSeconds: number;
}

export interface UsageTotals {
  readonly dynamodb: {
    requests: number;
    readUnits: number;
    writeUnits: number;
    failed: number;
    byCommand: Record<string, { requests: number; readUnits: number; writeUnits: number }>;
  };
  readonly sqs: { requests: number; billedRequests: number; emptyReceives: number; byCommand: Record<string, number> };
  readonly lambda: { invocations: number; gbSeconds: number; byFunction: Record<string, FunctionUsage> };
  apiRequests: number;
  logBytes: number;
  logLines: number;
  /** Log lines by their `message` (what happened, in the functions' words). */
  readonly logMessages: Record<string, number>;
}

function empty(): UsageTotals {
  return {
    dynamodb: { requests: 0, readUnits: 0, writeUnits: 0, failed: 0, byCommand: {} },
    sqs: { requests: 0, billedRequests: 0, emptyReceives: 0, byCommand: {} },
    lambda: { invocations: 0, gbSeconds: 0, byFunction: {} },
    apiRequests: 0,
    logBytes: 0,
    logLines: 0,
    logMessages: {},
  };
}

export class BenchUsage implements UsageMeter {
  private current = empty();
  countCapacity = false;

  /** Installs the meter and diverts the functions' JSON log lines (counted, not printed). */
  static install(): BenchUsage {
    const usage = new BenchUsage();
    installUsageMeter(usage);
    const write = process.stdout.write.bind(process.stdout) as (chunk: string | Uint8Array, ...rest: unknown[]) => boolean;
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      // Powertools log lines and EMF metric blobs are one JSON object a line.
      if (text.startsWith('{')) {
        usage.current.logBytes += Buffer.byteLength(text);
        for (const line of text.split('\n').filter((l) => l.startsWith('{'))) {
          usage.current.logLines++;
          const message = /"message":"([^"]*)"/.exec(line)?.[1] ?? '(metrics)';
          usage.current.logMessages[message] = (usage.current.logMessages[message] ?? 0) + 1;
        }
        return true;
      }
      return write(chunk, ...rest);
    }) as typeof process.stdout.write;
    return usage;
  }

  reset(): void {
    this.current = empty();
  }

  totals(): UsageTotals {
    return structuredClone(this.current);
  }

  apiRequest(): void {
    this.current.apiRequests++;
  }

  awsCall(record: AwsCallRecord): void {
    const t = this.current;
    if (record.service === 'dynamodb') {
      t.dynamodb.requests++;
      t.dynamodb.readUnits += record.readUnits;
      t.dynamodb.writeUnits += record.writeUnits;
      if (record.failed) t.dynamodb.failed++;
      const entry = t.dynamodb.byCommand[record.command] ?? { requests: 0, readUnits: 0, writeUnits: 0 };
      t.dynamodb.byCommand[record.command] = entry;
      entry.requests++;
      entry.readUnits += record.readUnits;
      entry.writeUnits += record.writeUnits;
    } else if (record.service === 'sqs') {
      t.sqs.requests++;
      t.sqs.billedRequests += record.billedRequests;
      t.sqs.byCommand[record.command] = (t.sqs.byCommand[record.command] ?? 0) + 1;
      if (record.command === 'ReceiveMessage' && record.messages === 0) t.sqs.emptyReceives++;
    }
  }

  invocation(record: InvocationRecord): void {
    const t = this.current;
    const gbSeconds = (record.memoryMb / 1024) * (record.durationMs / 1000);
    t.lambda.invocations++;
    t.lambda.gbSeconds += gbSeconds;
    const entry = t.lambda.byFunction[record.functionName] ?? { invocations: 0, durationMs: 0, gbSeconds: 0 };
    t.lambda.byFunction[record.functionName] = entry;
    entry.invocations++;
    entry.durationMs += record.durationMs;
    entry.gbSeconds += gbSeconds;
  }
}
