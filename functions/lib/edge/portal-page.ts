/**
 * The portal's page: one HTML file built by `portal/build.ts`, read once per process. In Lambda it
 * sits beside the bundle (the CDK's bundling writes it there); the local stack names its own.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { envNames } from '../env-names.ts';

/** The page's file beside the Lambda bundle, where the CDK's bundling writes it (infra/description.ts). */
export const PORTAL_PAGE_FILE = 'portal.html';

let page: string | undefined;

export function portalPage(env: NodeJS.ProcessEnv = process.env): string {
  if (page === undefined) {
    const file = env[envNames.portalFile] ?? PORTAL_PAGE_FILE;
    page = readFileSync(path.resolve(env.LAMBDA_TASK_ROOT ?? process.cwd(), file), 'utf8');
  }
  return page;
}

/** Sent with the page: its own policy is in the page (a meta tag, with the hashes of its script and style). */
export const portalHeaders = {
  'content-type': 'text/html; charset=utf-8',
  // Small, and changed by every deploy: revalidated, never served stale.
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;
