/**
 * `npm test`: the typecheck and jest at once (a core is often idle while integration suites wait on
 * the local stack), after the lint, which takes a second. The typecheck's output is shown when it
 * ends, so it does not break into jest's. Fails if either fails.
 */
import { spawn } from 'node:child_process';

const typecheckOutput = [];
// Niced: it takes only what jest leaves idle, so the stacks' timing checks do not feel it.
const typecheck = spawn('nice', ['-n', '10', 'npm', 'run', '--silent', 'typecheck'], { stdio: ['ignore', 'pipe', 'pipe'] });
typecheck.stdout.on('data', (chunk) => typecheckOutput.push(chunk));
typecheck.stderr.on('data', (chunk) => typecheckOutput.push(chunk));
const jest = spawn('jest', process.argv.slice(2), { stdio: 'inherit' });

const exitCode = (child) => new Promise((resolve) => child.once('close', (code, signal) => resolve(signal ? 1 : (code ?? 1))));
const [typecheckCode, jestCode] = await Promise.all([exitCode(typecheck), exitCode(jest)]);
process.stdout.write(Buffer.concat(typecheckOutput));
console.log(`typecheck: ${typecheckCode === 0 ? 'ok' : `failed (exit ${typecheckCode})`}`);
process.exit(typecheckCode || jestCode);
