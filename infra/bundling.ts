import path from 'node:path';
import type { BuildOptions } from 'esbuild';

/**
 * How a function's entry becomes its Lambda bundle: declared once, used by the CDK stack
 * (NodejsFunction's esbuild) and by `npm run bundle-report`, which builds the same bundles to
 * measure them.
 */
export const bundling = {
  format: 'esm',
  target: 'node22',
  mainFields: ['module', 'main'],
  minify: true,
  // The Lambda Node 22 runtime ships AWS SDK v3: leaving it out shrinks every bundle.
  external: ['@aws-sdk/*'],
  // CommonJS dependencies bundled into ESM still call `require`.
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
} as const;

/**
 * Values fixed at bundle time. `POWERTOOLS_TRACE_ENABLED` is the function's deployed value (its
 * `tracing` context key), so a bundle without tracing drops the tracer and the X-Ray SDK.
 */
export function bundleDefines(environment: Readonly<Record<string, string>>): Record<string, string> {
  return { 'process.env.POWERTOOLS_TRACE_ENABLED': JSON.stringify(environment.POWERTOOLS_TRACE_ENABLED ?? 'false') };
}

/**
 * A function's bundle as esbuild options, for the tools that build it outside the CDK (the report,
 * the bundle tests), from the repository root. The CDK passes the same `bundling` to NodejsFunction.
 */
export function esbuildOptionsFor(name: string, environment: Readonly<Record<string, string>> = {}): BuildOptions {
  return {
    entryPoints: [path.join(process.cwd(), 'functions', `${name}.ts`)],
    bundle: true,
    platform: 'node',
    format: bundling.format,
    target: bundling.target,
    mainFields: [...bundling.mainFields],
    minify: bundling.minify,
    external: [...bundling.external],
    banner: { js: bundling.banner },
    define: bundleDefines(environment),
  };
}

/** The target a bundle must meet (issue 11): minified, AWS SDK left out. */
export const bundleBudget = {
  maxBytes: 300 * 1024,
  /** How much longer than the AWS SDK clients alone a bundle may take to import in a fresh process. */
  maxImportOverSdkMs: 50,
} as const;
