import { part, wiringOf } from '../../../functions/lib/container.ts';
import { environmentFor, loadConfig } from '../../../functions/lib/env.ts';

const config = loadConfig(
  environmentFor({
    profile: 'local',
    tableName: 'ledger',
    queues: { delivery: 'http://sqs.test/d', deliveryDeadLetter: 'http://sqs.test/dlq', retry: 'http://sqs.test/r' },
    rootKeyVerifier: { value: '{}' },
    encryptionKey: { value: 'k' },
  }),
);

describe('parts', () => {
  test('a part is built once per wiring, on first use, and shared by everything that uses it', async () => {
    let builds = 0;
    const counter = part(() => ({ n: ++builds }));
    const user = part(async (w) => (await counter(w)).n);
    const wiring = wiringOf(config);
    expect(builds).toBe(0);
    const [a, b, c] = await Promise.all([counter(wiring), counter(wiring), user(wiring)]);
    expect(a).toBe(b);
    expect(c).toBe(1);
    expect(builds).toBe(1);
  });

  test('another wiring (a test with its own clock) gets its own instances', async () => {
    const made = part((w) => ({ clock: w.clock }));
    const fixed = { now: () => new Date(0) };
    const first = await made(wiringOf(config));
    const second = await made(wiringOf(config, { clock: fixed }));
    expect(first).not.toBe(second);
    expect(second.clock).toBe(fixed);
  });

  test('a build that failed is tried again on the next use, not cached', async () => {
    let attempts = 0;
    const flaky = part(() => {
      attempts += 1;
      if (attempts === 1) throw new Error('secret not reachable yet');
      return 'built';
    });
    const wiring = wiringOf(config);
    await expect(flaky(wiring)).rejects.toThrow('secret not reachable yet');
    await expect(flaky(wiring)).resolves.toBe('built');
    await expect(flaky(wiring)).resolves.toBe('built');
    expect(attempts).toBe(2);
  });
});
