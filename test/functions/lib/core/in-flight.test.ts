import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { InFlightAttempts } from '../../../../functions/lib/core/in-flight.ts';
import { T0 } from './fakes.ts';

describe('InFlightAttempts', () => {
  const t = T0.getTime();

  test('an endpoint is slow once one of its attempts has been in flight for longer than slowAfterMs', () => {
    const inFlight = new InFlightAttempts(500);
    expect(inFlight.isSlow('ep_A', t)).toBe(false);
    const done = inFlight.begin('ep_A', t);
    expect(inFlight.isSlow('ep_A', t + 500)).toBe(false);
    expect(inFlight.isSlow('ep_A', t + 501)).toBe(true);
    expect(inFlight.isSlow('ep_B', t + 501)).toBe(false);
    done();
    expect(inFlight.isSlow('ep_A', t + 10_000)).toBe(false);
  });

  test('the default threshold is one second', () => {
    const inFlight = new InFlightAttempts();
    inFlight.begin('ep_A', t);
    expect(inFlight.isSlow('ep_A', t + 1000)).toBe(false);
    expect(inFlight.isSlow('ep_A', t + 1001)).toBe(true);
  });

  test('one attempt finishing does not hide an older one still in flight', () => {
    const inFlight = new InFlightAttempts(500);
    const older = inFlight.begin('ep_A', t);
    const newer = inFlight.begin('ep_A', t + 300);
    newer();
    expect(inFlight.isSlow('ep_A', t + 501)).toBe(true);
    older();
    expect(inFlight.isSlow('ep_A', t + 501)).toBe(false);
  });

  // Regression guard. At f0aa4a3 InFlightAttempts.begin made keys distinct with
  // `while (set.has(key)) key += 1e-6;`: at epoch milliseconds (~1.7e12) a double's spacing is
  // 2^-12, so `key + 1e-6 === key` and two attempts to one endpoint begun in the same millisecond
  // (the consumer runs a batch's records in parallel) hung the worker for good. The probe runs in
  // a child process so that such a loop cannot block this test runner.
  test('two attempts to one endpoint begun in the same millisecond are both tracked (and begin returns)', async () => {
    const root = path.resolve(__dirname, '../../../..');
    const module = pathToFileURL(path.join(root, 'functions/lib/core/in-flight.ts')).href;
    const script = [
      `import { InFlightAttempts } from ${JSON.stringify(module)};`,
      'const inFlight = new InFlightAttempts(1000);',
      `const at = ${t};`,
      "process.stdout.write('ready\\n');",
      "const first = inFlight.begin('ep_A', at);",
      "const second = inFlight.begin('ep_A', at);",
      'first();',
      "process.stdout.write(inFlight.isSlow('ep_A', at + 1001) ? 'tracked\\n' : 'lost\\n');",
      'second();',
    ].join('\n');
    const result = await new Promise<{ output: string; hung: boolean }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root });
      let output = '';
      let hung = false;
      let timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('ready') && !hung) {
          // Two begin() calls take microseconds; a second means the loop does not end.
          clearTimeout(timer);
          timer = setTimeout(() => {
            hung = true;
            child.kill('SIGKILL');
          }, 1000);
        }
      });
      child.on('close', () => {
        clearTimeout(timer);
        resolve({ output, hung });
      });
    });
    expect(result.output).toContain('ready');
    expect(result.hung).toBe(false);
    expect(result.output).toContain('tracked');
  }, 30_000);
});
