/**
 * Builds the portal into one self-contained HTML document: the app (preact, bundled and minified
 * by the project's esbuild) and its stylesheet inline, under a Content-Security-Policy that allows
 * exactly those two by hash and API calls to the page's own origin. One file, so one route serves
 * it (GET /portal), in AWS as locally, and nothing is fetched at run time.
 *
 * `node --import tsx portal/build.ts <out.html>` writes it (the CDK's bundling runs this); the local
 * stack calls `buildPortalHtml` at start.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const portalDir = path.join(process.cwd(), 'portal');

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

export async function buildPortalHtml(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(portalDir, 'main.tsx')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: ['chrome120', 'firefox120', 'safari16'],
    minify: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    logLevel: 'silent',
  });
  // Inline, a `</script` inside the code would end the element early.
  const script = (result.outputFiles[0]?.text ?? '').replaceAll('</script', '<\\/script');
  const style = readFileSync(path.join(portalDir, 'styles.css'), 'utf8');
  const policy = [
    "default-src 'none'",
    `script-src ${sha256(script)}`,
    `style-src ${sha256(style)}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta http-equiv="Content-Security-Policy" content="${policy}">
<title>Sluice portal</title>
<style>${style}</style>
</head>
<body>
<div id="app"></div>
<script type="module">${script}</script>
</body>
</html>
`;
}

/** Writes the page aside and renames it into place, so a reader never meets half a file. */
export function writePortalHtml(file: string, html: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const aside = `${file}.${process.pid}.tmp`;
  writeFileSync(aside, html);
  renameSync(aside, file);
}

export async function writePortal(file: string): Promise<void> {
  writePortalHtml(file, await buildPortalHtml());
}

/**
 * Where a stack with no data directory keeps the page: named by its content, so stacks of the
 * same code share one file (nothing is left per run), and stacks of different checkouts do not.
 */
export function sharedPortalFile(html: string, dir: string): string {
  return path.join(dir, `sluice-portal-${createHash('sha256').update(html, 'utf8').digest('hex').slice(0, 16)}.html`);
}

// Run as a script (not imported): no `import.meta` here, since jest loads this module as CommonJS.
if (process.argv[1]?.endsWith(path.join('portal', 'build.ts'))) {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: node --import tsx portal/build.ts <out.html>');
    process.exit(2);
  }
  await writePortal(path.resolve(out));
  console.log(`portal written to ${out}`);
}
