#!/usr/bin/env node
// The `sluice` command: runs the TypeScript CLI in place (tsx), as `npm start` runs the local stack.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../cli/sluice.ts');
await run(process.argv.slice(2));
