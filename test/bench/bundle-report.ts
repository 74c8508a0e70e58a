/**
 * `npm run bundle-report`: each function's Lambda bundle, built as the CDK stack builds it
 * (infra/bundling.ts), with its minified size and the time a fresh Node process takes to import
 * it, against the budget in infra/bundling.ts. The import baseline is the AWS SDK clients alone
 * (DynamoDB, its document client, SQS, Secrets Manager), since the runtime's SDK is the floor every
 * bundle stands on. Each bundle's timing is paired with a baseline timing taken right before it, and
 * the report gives the median of the differences, so a machine that gets busier mid-run does not
 * shift the figures.
 *
 * Writes .bench/bundles.json; exits 1 if a bundle misses the budget. Environment:
 * BUNDLE_RUNS (import timings per bundle, median taken; default 5), BUNDLE_ONLY (comma list of names).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { bundleBudget, esbuildOptionsFor } from '../../infra/bundling.ts';
import { allFunctions } from '../../infra/description.ts';

const root = process.cwd();
const outDir = path.join(root, '.bench', 'bundles');
const runs = Number(process.env.BUNDLE_RUNS ?? 5);
const only = process.env.BUNDLE_ONLY?.split(',').filter(Boolean);

const sdkClients = ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb', '@aws-sdk/client-sqs', '@aws-sdk/client-secrets-manager'];

/** Milliseconds to import the given specifiers in a fresh process (the process start itself excluded). */
function importMs(specifiers: readonly string[]): number {
  const script = `const t = performance.now(); for (const s of ${JSON.stringify(specifiers)}) await import(s); console.log(performance.now() - t);`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: outDir, encoding: 'utf8' });
  return Number(out.trim());
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function medianImportMs(specifiers: readonly string[]): number {
  importMs(specifiers); // warm the file cache once
  return median(Array.from({ length: runs }, () => importMs(specifiers)));
}

/** The bundle's import time and its excess over the SDK clients', each the median of paired runs. */
function pairedImportMs(bundle: string, sdk: readonly string[]): { importMs: number; overSdkMs: number } {
  importMs([bundle]);
  const pairs = Array.from({ length: runs }, () => {
    const baseline = importMs(sdk);
    const own = importMs([bundle]);
    return { own, over: own - baseline };
  });
  return { importMs: median(pairs.map((p) => p.own)), overSdkMs: median(pairs.map((p) => p.over)) };
}

interface BundleFigures {
  readonly name: string;
  readonly bytes: number;
  readonly importMs: number;
  readonly overSdkMs: number;
  readonly withinBudget: boolean;
}

async function main(): Promise<void> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  // Bundles resolve the external SDK from the repository's node_modules, as Lambda resolves its own.
  writeFileSync(path.join(outDir, 'package.json'), JSON.stringify({ type: 'module' }));
  const functions = allFunctions.filter((fn) => !only || only.includes(fn.name));
  const sdk = sdkClients.map((name) => import.meta.resolve(name));
  const sdkMs = medianImportMs(sdk);
  process.stderr.write(`AWS SDK clients alone: ${sdkMs.toFixed(0)} ms to import (median of ${runs})\n`);

  const figures: BundleFigures[] = [];
  for (const [index, fn] of functions.entries()) {
    const outfile = path.join(outDir, `${fn.name}.mjs`);
    // As deployed by default: tracing off.
    await build({ ...esbuildOptionsFor(fn.name), outfile, logLevel: 'error' });
    const bytes = statSync(outfile).size;
    const { importMs: ms, overSdkMs } = pairedImportMs(outfile, sdk);
    const withinBudget = bytes <= bundleBudget.maxBytes && overSdkMs <= bundleBudget.maxImportOverSdkMs;
    figures.push({ name: fn.name, bytes, importMs: ms, overSdkMs, withinBudget });
    process.stderr.write(`[${index + 1}/${functions.length}] ${fn.name}\n`);
  }

  const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;
  const width = Math.max(...figures.map((f) => f.name.length));
  console.log(`${'function'.padEnd(width)}  ${'bundle'.padStart(8)}  ${'import'.padStart(8)}  ${'vs SDK'.padStart(8)}  budget`);
  for (const f of [...figures].sort((a, b) => b.bytes - a.bytes)) {
    const sign = f.overSdkMs >= 0 ? '+' : '';
    console.log(
      `${f.name.padEnd(width)}  ${kb(f.bytes).padStart(8)}  ${`${f.importMs.toFixed(0)} ms`.padStart(8)}  ${`${sign}${f.overSdkMs.toFixed(0)} ms`.padStart(8)}  ${f.withinBudget ? 'ok' : 'MISSED'}`,
    );
  }
  const missed = figures.filter((f) => !f.withinBudget);
  console.log(
    `\nbudget: ≤ ${kb(bundleBudget.maxBytes)} minified and ≤ SDK + ${bundleBudget.maxImportOverSdkMs} ms to import; ` +
      `SDK clients alone ${sdkMs.toFixed(0)} ms; ${figures.length - missed.length}/${figures.length} within budget`,
  );
  writeFileSync(path.join(root, '.bench', 'bundles.json'), `${JSON.stringify({ sdkMs, budget: bundleBudget, figures }, null, 2)}\n`);
  if (missed.length > 0) process.exitCode = 1;
}

await main();
