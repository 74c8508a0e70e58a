import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { LocalStackError } from './dynamodb-local.ts';

export interface SqsServer {
  readonly endpoint: string;
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
  /** SIGKILL, for fault tests. */
  kill(): void;
}

/**
 * fauxqs in a child process of its own: its SQLite write-through stays off the event loop that
 * serves the API and the pollers, and a fault test can kill it like a real outage. The IPC
 * channel ties its life to ours.
 */
export async function startSqsServer(options: { port: number; dataDir?: string }): Promise<SqsServer> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const child = fork(path.join(process.cwd(), 'infra/local/sqs-server-process.mjs'), [], {
    env: {
      ...process.env,
      SLUICE_SQS_PORT: String(options.port),
      ...(options.dataDir && { SLUICE_SQS_DATA_DIR: options.dataDir }),
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    execArgv: [],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new LocalStackError(`the SQS server did not start within 30 s:\n${output}`)), 30_000);
    child.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new LocalStackError(`the SQS server exited (code ${code}) while starting:\n${output}`));
    });
  });
  return {
    endpoint: `http://127.0.0.1:${options.port}`,
    process: child,
    exited,
    kill: () => child.kill('SIGKILL'),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
