/**
 * Lints an OpenAPI document read from stdin with Redocly's recommended rules and prints the
 * problems as JSON. A separate process because @redocly/openapi-core is ESM-only and jest runs
 * CommonJS here.
 */
import { createConfig, lintFromString } from '@redocly/openapi-core';

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const config = await createConfig({ extends: ['recommended'] });
const problems = await lintFromString({ source: Buffer.concat(chunks).toString('utf8'), absoluteRef: 'openapi.json', config });
process.stdout.write(
  JSON.stringify(
    problems.map((problem) => ({
      rule: problem.ruleId,
      severity: problem.severity,
      message: problem.message,
      where: problem.location[0]?.pointer,
    })),
  ),
);
