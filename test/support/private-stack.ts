/**
 * A local stack of a test's own, in a child process like `npm start`: for tests that restart,
 * rotate or break the stack, which the shared fixture must never see.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** What `infra/local/main.ts` writes to its ready file (`SLUICE_READY_FILE`). */
export interface ReadyFile {
  readonly apiUrl: string;
  readonly rootKey: string;
  readonly dynamodbEndpoint: string;
  /** `dynamodb`: DynamoDB Local's guard shell, which leads its process group (java is its child). */
  readonly pids: { readonly dynamodb: number };
}

export interface PrivateStack {
  readonly child: ChildProcess;
  readonly ready: ReadyFile;
}

export interface PrivateStackOptions {
  /** `SLUICE_DATA_DIR`: a directory to persist in, or `:memory:`. */
  readonly dataDir: string;
  /** Where the ready file goes (a fresh name per start). */
  readonly workDir: string;
  readonly logLevel?: 'WARN' | 'ERROR';
  /** More environment for the stack (e.g. a faster sweeper). */
  readonly env?: Readonly<Record<string, string>>;
  /** How long to wait for the ready file; 60 s unless said. */
  readonly readyTimeoutMs?: number;
  /** Where the stack's last output is written when it exits, for a failed test to show. */
  readonly logFile?: string;
  /** Hears of the child at once, so a caller can kill it even if it never gets ready. */
  readonly spawned?: (child: ChildProcess) => void;
}

/**
 * DynamoDB Local's JVM with the quick compiler only and the simple collector: it starts in half the
 * time, and a private stack lives for a few requests, too briefly for the optimising compiler to
 * pay off. A test that loads its stack heavily can set `JAVA_TOOL_OPTIONS` back in its `env`.
 */
export const quickJvm = { JAVA_TOOL_OPTIONS: '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC' } as const;

/** Starts the stack on a free port and waits for its ready file. */
export async function startPrivateStack(options: PrivateStackOptions): Promise<PrivateStack> {
  const readyFile = path.join(options.workDir, `ready-${Date.now()}.json`);
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/main.ts', '--quiet'], {
    cwd: process.cwd(),
    env: {
      ...process.env,
      PORT: '0',
      SLUICE_DATA_DIR: options.dataDir,
      SLUICE_READY_FILE: readyFile,
      POWERTOOLS_LOG_LEVEL: options.logLevel ?? 'WARN',
      ...quickJvm,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  options.spawned?.(child);
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const { logFile } = options;
  if (logFile) {
    child.once('exit', () => {
      // A test may remove its directory before the killed child's exit arrives: the log goes with it.
      if (existsSync(path.dirname(logFile))) writeFileSync(logFile, output);
    });
  }
  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(readyFile)) {
    if (child.exitCode !== null) throw new Error(`the stack exited ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) throw new Error(`the stack was not ready in ${timeoutMs / 1000} s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, ready: JSON.parse(readFileSync(readyFile, 'utf8')) as ReadyFile };
}

/** Stops it as Ctrl-C would, and waits for the exit. */
export async function stopPrivateStack(stack: PrivateStack): Promise<void> {
  if (stack.child.exitCode !== null) return;
  const exited = new Promise((resolve) => stack.child.once('exit', resolve));
  stack.child.kill('SIGTERM');
  await exited;
}
