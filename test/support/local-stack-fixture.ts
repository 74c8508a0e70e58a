/**
 * Jest global setup for integration tests: starts ONE real local stack for the whole run, the
 * same way `npm start` does (DynamoDB Local, fauxqs, the HTTP API and the pollers), in memory,
 * on free ports. Tests reach it through SLUICE_TEST_STACK.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

const root = process.cwd();
export const stackDir = path.join(root, '.test-stack');
export const stackLog = path.join(stackDir, 'stack.log');

declare global {
  var sluiceTestStack: ChildProcess | undefined;
}

export default async function startLocalStack(): Promise<void> {
  rmSync(stackDir, { recursive: true, force: true });
  mkdirSync(stackDir, { recursive: true });
  const readyFile = path.join(stackDir, 'ready.json');
  const log = openSync(stackLog, 'w');
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/main.ts', '--quiet'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: '0',
      SLUICE_DATA_DIR: ':memory:',
      SLUICE_ROOT_KEY: `root_test_${randomBytes(16).toString('hex')}`,
      SLUICE_READY_FILE: readyFile,
      SLUICE_LOCAL_METRICS: '1',
      // One allowed browser origin, so CORS is exercised (api-conventions).
      SLUICE_CORS_ORIGINS: 'http://portal.test:8080',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      // Second-scale schedules so recovery paths run within a test's time.
      SLUICE_SWEEP_INTERVAL_SECONDS: '1',
      SLUICE_SWEEP_GRACE_SECONDS: '4',
      SLUICE_ENDPOINT_FAILURE_WINDOW_SECONDS: '15',
    },
    stdio: ['ignore', log, log],
  });
  globalThis.sluiceTestStack = child;
  const deadline = Date.now() + 120_000;
  while (!existsSync(readyFile)) {
    if (child.exitCode !== null)
      throw new Error(`the local stack exited with ${child.exitCode}:\n${readFileSync(stackLog, 'utf8').slice(-3000)}`);
    if (Date.now() > deadline)
      throw new Error(`the local stack was not ready within 120 s:\n${readFileSync(stackLog, 'utf8').slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  process.env.SLUICE_TEST_STACK = readFileSync(readyFile, 'utf8');
  process.env.SLUICE_TEST_STACK_LOG = stackLog;
}
