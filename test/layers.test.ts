/**
 * The layer rule, checked on the sources (docs/decisions.md): entries → edge → core ← adapters;
 * the core imports no AWS SDK, middy, Powertools or process environment; `infra/` may import
 * `functions/`, never the reverse; and no module imports itself back through others.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const root = process.cwd();

function sourcesUnder(dir: string): string[] {
  return readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.tsx?$/.test(file) && !file.endsWith('.d.ts'))
    .map((file) => path.join(dir, file));
}

const files = [...sourcesUnder('functions'), ...sourcesUnder('infra'), ...sourcesUnder('portal')];

/** What a file imports: other source files (repository-relative) and packages. */
function importsOf(file: string): { files: string[]; packages: string[] } {
  const text = readFileSync(path.join(root, file), 'utf8');
  const { importedFiles } = ts.preProcessFile(text, true, true);
  const result = { files: [] as string[], packages: [] as string[] };
  for (const { fileName } of importedFiles) {
    if (fileName.startsWith('.')) result.files.push(path.normalize(path.join(path.dirname(file), fileName)));
    else if (fileName.startsWith('#lib/')) result.files.push(`functions/lib/${fileName.slice(5)}.ts`);
    else if (fileName.startsWith('#infra/')) result.files.push(`infra/${fileName.slice(7)}.ts`);
    else result.packages.push(fileName);
  }
  return result;
}

const graph = new Map(files.map((file) => [file, importsOf(file)]));

describe('the layer rule', () => {
  test('every relative import names a source file that exists', () => {
    expect(graph.size).toBeGreaterThan(150);
    const missing = [...graph].flatMap(([file, { files: targets }]) =>
      targets.filter((target) => !graph.has(target) && !existsSync(path.join(root, target))).map((target) => `${file} -> ${target}`),
    );
    expect(missing).toEqual([]);
  });

  test('functions/ never imports infra/', () => {
    const wrong = [...graph]
      .filter(([file]) => file.startsWith('functions/'))
      .flatMap(([file, { files: targets }]) => targets.filter((t) => t.startsWith('infra/')).map((t) => `${file} -> ${t}`));
    expect(wrong).toEqual([]);
  });

  test('the core imports only the core, and no AWS SDK, middy, Powertools, Lambda types or process environment', () => {
    const core = (file: string) => file.startsWith('functions/lib/core/');
    const forbiddenPackage = /^(@aws-sdk\/|@middy\/|@aws-lambda-powertools\/|aws-lambda$|undici$)/;
    const wrong: string[] = [];
    for (const [file, { files: targets, packages }] of graph) {
      if (!core(file)) continue;
      for (const target of targets) if (!core(target)) wrong.push(`${file} -> ${target}`);
      for (const name of packages) if (forbiddenPackage.test(name)) wrong.push(`${file} -> ${name}`);
      if (/\bprocess\.env\b/.test(readFileSync(path.join(root, file), 'utf8'))) wrong.push(`${file} reads process.env`);
    }
    expect(wrong).toEqual([]);
  });

  test('adapters (aws/, http/, schema/, crypto/) depend on the core, never on the edge or the API contract', () => {
    const adapter = /^functions\/lib\/(aws|http|schema|crypto)\//;
    const wrong = [...graph]
      .filter(([file]) => adapter.test(file))
      .flatMap(([file, { files: targets }]) =>
        targets.filter((t) => /^functions\/lib\/(edge|api)\//.test(t) || t === 'functions/lib/container.ts').map((t) => `${file} -> ${t}`),
      );
    expect(wrong).toEqual([]);
  });

  test('the CLI is a client of the API: it imports the generated API types, never functions/ or infra/', () => {
    const cli = sourcesUnder('cli').map((file) => [file, importsOf(file)] as const);
    expect(cli.length).toBeGreaterThan(0);
    const reaching = cli.flatMap(([file, { files: targets }]) =>
      targets.filter((t) => t.startsWith('functions/') || t.startsWith('infra/')).map((t) => `${file} -> ${t}`),
    );
    expect(reaching).toEqual([]);
    expect(files.filter((file) => graph.get(file)?.files.some((t) => t.startsWith('cli/')))).toEqual([]);
  });

  test('the portal is a client of the API too: no functions/ or infra/ import; only the local stack builds it', () => {
    const portal = files.filter((file) => file.startsWith('portal/'));
    expect(portal).toEqual(expect.arrayContaining(['portal/main.tsx', 'portal/build.ts']));
    const reaching = portal.flatMap((file) =>
      (graph.get(file)?.files ?? []).filter((t) => t.startsWith('functions/') || t.startsWith('infra/')).map((t) => `${file} -> ${t}`),
    );
    expect(reaching).toEqual([]);
    const importers = files.filter((file) => !file.startsWith('portal/') && graph.get(file)?.files.some((t) => t.startsWith('portal/')));
    expect(importers).toEqual(['infra/local/local-stack.ts']);
  });

  test('no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string) => {
      state.set(file, 'visiting');
      stack.push(file);
      for (const next of graph.get(file)?.files ?? []) {
        if (!graph.has(next)) continue;
        if (state.get(next) === 'visiting') cycles.push([...stack.slice(stack.indexOf(next)), next].join(' -> '));
        else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });
});
