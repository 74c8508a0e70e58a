/**
 * `npm run generate:client`: regenerates examples/typed-client/sluice-api.ts from the route
 * schemas. With `--stdin`, reads an OpenAPI document from stdin and prints its types instead
 * (the typed-client test feeds it the served document; openapi-typescript is ESM-only in part,
 * so it runs in its own process).
 */
import { writeFileSync } from 'node:fs';
import { openApiDocument } from '../../functions/lib/api/openapi.ts';
import { GENERATED_TYPES, generateTypes } from './generate.ts';

if (process.argv.includes('--stdin')) {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  process.stdout.write(await generateTypes(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>));
} else {
  writeFileSync(GENERATED_TYPES, await generateTypes(openApiDocument()));
  console.log(`wrote ${GENERATED_TYPES}`);
}
