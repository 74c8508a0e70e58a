/**
 * Integration (real local stack, real receivers): the `sluice` CLI as a user runs it, a child
 * process of `bin/sluice.mjs` with `SLUICE_URL` and `SLUICE_KEY`, its output and exit codes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { type ReceivedRequest, receiverPool, respondWith } from '../support/receiver.ts';
import { call, createEndpoint, createTenant, eventually, postMessage, putEventType, type TestTenant, testStack } from '../support/stack.ts';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function sluice(tenant: TestTenant | undefined, args: readonly string[], options: { input?: string; env?: Record<string, string> } = {}) {
  const child = spawn(process.execPath, [path.join('bin', 'sluice.mjs'), ...args], {
    env: {
      ...process.env,
      SLUICE_URL: testStack().apiUrl,
      ...(tenant && { SLUICE_KEY: tenant.key }),
      NO_COLOR: '1',
      ...options.env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end(options.input ?? '');
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done, output: () => stdout };
}

const run = (tenant: TestTenant | undefined, args: readonly string[], options?: { input?: string; env?: Record<string, string> }) =>
  sluice(tenant, args, options).done;

/** A request as a receiver got it, written out as `verify` reads it. */
function captured(request: ReceivedRequest, body = request.body): string {
  const headers = Object.entries(request.headers).map(([name, value]) => `${name}: ${value}`);
  return `POST ${request.path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n${body}`;
}

describe('the sluice CLI', () => {
  const receivers = receiverPool();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-cli-'));
  let tenant: TestTenant;

  beforeAll(async () => {
    tenant = await createTenant('cli');
    await putEventType(tenant, 'order.created');
    await putEventType(tenant, 'order.paid');
  });
  afterAll(async () => {
    await receivers.closeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test('--help names every command and the exit codes; a wrong command line exits 2', async () => {
    const help = await run(undefined, ['--help']);
    expect(help.code).toBe(0);
    for (const command of ['send', 'endpoints', 'tail', 'replay', 'verify', 'listen', 'portal']) expect(help.stdout).toContain(command);
    expect(help.stdout).toContain('Exit codes: 0 done, 1 refused by the API or signature invalid, 2 bad command line, 3');
    const missing = await run(tenant, ['replay', '--endpoint', 'ep_x']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--since <when>' not specified");
    const badSince = await run(tenant, ['replay', '--endpoint', 'ep_x', '--since', 'yesterday']);
    expect(badSince.code).toBe(2);
    expect(badSince.stderr).toContain('give a duration ago (30s, 15m, 1h, 2d) or an ISO 8601 time');
    const noKey = await run(undefined, ['endpoints', 'list'], { env: { SLUICE_KEY: '' } });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toBe('sluice: no API key: set SLUICE_KEY or pass --key\n');
  });

  test('endpoints create, list (text and --json), disable and enable', async () => {
    const own = await createTenant('cli endpoints');
    await putEventType(own, 'order.created');
    await putEventType(own, 'order.paid');
    const receiver = await receivers.start();
    const created = await run(own, ['endpoints', 'create', '--url', receiver.url, '--types', 'order.created,order.paid']);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const [idLine, secretLine] = created.stdout.trim().split('\n');
    const id = idLine?.split(/\s+/)[0] ?? '';
    expect(id).toMatch(/^ep_/);
    expect(secretLine).toMatch(/^secret {2}whsec_/);

    const listed = await run(own, ['endpoints', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n')[0]).toMatch(/^ID\s+STATE\s+MODE\s+EVENT TYPES\s+URL$/);
    expect(listed.stdout).toContain(`${id}  enabled  full  order.created,order.paid  ${receiver.url}`);

    expect((await run(own, ['endpoints', 'disable', id])).stdout).toBe(`${id}  disabled\n`);
    const json = await run(own, ['endpoints', 'list', '--json']);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ id, disabled: true, url: receiver.url })]);
    // The secret is shown at creation only, never in a list.
    expect(json.stdout).not.toContain('whsec_');
    expect((await run(own, ['endpoints', 'enable', id])).stdout).toBe(`${id}  enabled\n`);

    const refused = await run(own, ['endpoints', 'create', '--url', 'http://169.254.169.254/latest']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^sluice: 4\d\d forbidden_destination: /);
  });

  test('portal prints a signed-in link: read by default, manage when asked, any tenant with the root key', async () => {
    const own = await createTenant('cli portal');
    const read = await run(own, ['portal']);
    expect(read.code).toBe(0);
    const [link, about] = read.stdout.trim().split('\n');
    expect(link).toMatch(new RegExp(`^${testStack().apiUrl}/portal#token=pst_`));
    expect(about).toMatch(new RegExp(`^read, for ${own.id}, until `));
    const token = decodeURIComponent(link?.split('#token=')[1] ?? '');
    expect((await call('GET', '/v1/portal-sessions/current', { key: token })).body).toMatchObject({ capability: 'read', tenantId: own.id });

    const manage = JSON.parse((await run(own, ['--json', 'portal', '--capability', 'manage', '--expires', '600'])).stdout);
    expect(manage).toMatchObject({ capability: 'manage', tenantId: own.id, url: expect.stringContaining('/portal#token=pst_') });
    const byRoot = await run(undefined, ['portal', '--tenant', own.id], { env: { SLUICE_KEY: testStack().rootKey } });
    expect(byRoot).toMatchObject({ code: 0, stdout: expect.stringContaining(`read, for ${own.id}`) });
    expect((await run(own, ['portal', '--capability', 'owner'])).code).toBe(2);
    expect((await run(own, ['portal', '--expires', '5'])).code).toBe(1);
  });

  test('send: inline, from a file and from standard input; a refused event exits 1 with the API’s reason', async () => {
    const receiver = await receivers.start();
    await createEndpoint(tenant, { url: receiver.url, eventTypes: ['order.created'] });
    const file = path.join(dir, 'order.json');
    writeFileSync(file, JSON.stringify({ orderId: 'from-file' }));
    const inline = await run(tenant, ['send', 'order.created', '--data', '{"orderId":"inline"}', '--idempotency-key', 'cli-1']);
    expect(inline.code).toBe(0);
    expect(inline.stdout).toMatch(/^msg_\w+ {2}order\.created {2}dispatched\n$/);
    const again = await run(tenant, ['--json', 'send', 'order.created', '--data', '{"orderId":"inline"}', '--idempotency-key', 'cli-1']);
    expect((JSON.parse(again.stdout) as { id: string }).id).toBe(inline.stdout.split(' ')[0]);
    expect((await run(tenant, ['send', 'order.created', '--data', `@${file}`])).code).toBe(0);
    expect((await run(tenant, ['send', 'order.created', '--data', '-'], { input: '{"orderId":"stdin"}' })).code).toBe(0);
    const requests = await receiver.waitFor(3);
    expect(requests.map((r) => (JSON.parse(r.body) as { data: { orderId: string } }).data.orderId).sort()).toEqual([
      'from-file',
      'inline',
      'stdin',
    ]);

    const unknown = await run(tenant, ['send', 'no.such.type']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown_event_type');
    const notJson = await run(tenant, ['send', 'order.created', '--data', '{nope']);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain('--data is not JSON');
    const unreachable = await run(tenant, ['--api-url', 'http://127.0.0.1:1', 'send', 'order.created']);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain('cannot reach Sluice at http://127.0.0.1:1');
  });

  test('tail prints each delivery as it is made, and again as its state moves on', async () => {
    const own = await createTenant('cli tail');
    await putEventType(own, 'order.created');
    let fail = true;
    const receiver = await receivers.start((request, index, res) => respondWith(fail ? 500 : 200)(request, index, res));
    const endpoint = await createEndpoint(own, { url: receiver.url, retryPolicy: { delaysSeconds: [5] } });
    const tail = sluice(own, ['--json', 'tail', '--endpoint', endpoint.id, '--since', '1m', '--count', '3']);
    const text = sluice(own, ['tail', '--since', '1m', '--count', '1']);
    // Both are polling by the time the first attempt fails, and its retry is 5 s away: the failure is seen.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const first = await postMessage(own, 'order.created', { n: 1 });
    await receiver.waitFor(1);
    fail = false;
    const second = await postMessage(own, 'order.created', { n: 2 });
    const [tailed, texted] = await Promise.all([tail.done, text.done]);
    expect(tailed.code).toBe(0);
    const lines = tailed.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { messageId: string; status: string; attemptCount: number });
    // The first message fails, then succeeds on its retry; the second succeeds at once.
    expect(lines.filter((l) => l.messageId === first.id).map((l) => [l.status, l.attemptCount])).toEqual([
      ['failed', 1],
      ['succeeded', 2],
    ]);
    expect(lines.filter((l) => l.messageId === second.id).map((l) => l.status)).toEqual(['succeeded']);
    expect(texted.code).toBe(0);
    expect(texted.stdout).toMatch(/^\d\d:\d\d:\d\d {2}(failed|succeeded) +\s(500|200)\s+order\.created {2}dlv_\w+ {2}ep_\w+ {2}attempt \d/);
  }, 60_000);

  test('replay --wait follows the task to done; the receiver gets each delivery again', async () => {
    const own = await createTenant('cli replay');
    await putEventType(own, 'order.created');
    const receiver = await receivers.start();
    const endpoint = await createEndpoint(own, { url: receiver.url });
    for (let i = 0; i < 3; i++) await postMessage(own, 'order.created', { i });
    await receiver.waitFor(3);
    await eventually(async () => {
      const page = await call<{ data: { status: string }[] }>('GET', `/v1/endpoints/${endpoint.id}/deliveries`, { key: own.key });
      return page.body.data.filter((d) => d.status === 'succeeded').length === 3 ? true : undefined;
    }, 'the deliveries recorded');
    const replayed = await run(own, ['replay', '--endpoint', endpoint.id, '--since', '10m', '--status', 'all', '--wait']);
    expect(replayed.code).toBe(0);
    const lines = replayed.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^task_\w+ {2}(queued|running|done)/);
    expect(lines.at(-1)).toMatch(/^task_\w+ {2}done {2}scanned 3, queued 3$/);
    await receiver.waitFor(6);
    // Nothing failed, so a replay of failed deliveries finds none.
    const none = await run(own, ['--json', 'replay', '--endpoint', endpoint.id, '--since', '10m', '--wait']);
    expect(JSON.parse(none.stdout.trim().split('\n').at(-1) ?? '{}')).toMatchObject({ status: 'done', counts: { scanned: 0, queued: 0 } });
    const unknown = await run(own, ['replay', '--endpoint', 'ep_nope', '--since', '1h']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('404 not_found');
  }, 60_000);

  test('verify: a captured delivery verifies with its endpoint’s secret; a changed body or another secret does not', async () => {
    const receiver = await receivers.start();
    const endpoint = await createEndpoint(tenant, { url: receiver.url, eventTypes: ['order.created'] });
    await postMessage(tenant, 'order.created', { orderId: 'verify-me' });
    const [request] = (await receiver.waitFor(1)) as [ReceivedRequest];
    const valid = await run(undefined, ['verify', '--secret', endpoint.secret], { input: captured(request) });
    expect(valid.code).toBe(0);
    expect(valid.stdout).toMatch(/^valid {2}msg_\w+ {2}signed at \d{4}-/);
    const tampered = await run(undefined, ['verify', '--secret', endpoint.secret], {
      input: captured(request, request.body.replace('verify-me', 'verify-you')),
    });
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toBe('invalid  No matching signature found\n');
    const other = await createEndpoint(tenant, { url: receiver.url, eventTypes: ['order.paid'] });
    expect((await run(undefined, ['verify', '--secret', other.secret], { input: captured(request) })).code).toBe(1);
    const json = await run(undefined, ['--json', 'verify', '--secret', endpoint.secret], { input: captured(request) });
    expect(JSON.parse(json.stdout)).toEqual({ valid: true, messageId: request.headers['webhook-id'], signedAt: expect.any(String) });
    const headless = await run(undefined, ['verify', '--secret', endpoint.secret], { input: '{"no":"headers"}' });
    expect(headless.stdout).toBe('invalid  missing webhook-id, webhook-timestamp or webhook-signature header\n');
  });

  test('listen forwards each delivery, signed, to a local server, acks it, and deletes its endpoint when done', async () => {
    const own = await createTenant('cli listen');
    await putEventType(own, 'order.created');
    await putEventType(own, 'order.paid');
    const receiver = await receivers.start();
    const listen = sluice(own, ['--json', 'listen', '--forward', receiver.url, '--types', 'order.created', '--count', '2']);
    const ready = await eventually(async () => {
      const [line] = listen.output().split('\n');
      return listen.output().includes('\n') && line ? (JSON.parse(line) as { endpointId: string; secret: string }) : undefined;
    }, 'listen to be ready');
    await postMessage(own, 'order.paid', { orderId: 'not-for-listen' });
    const first = await postMessage(own, 'order.created', { orderId: 'a' });
    const second = await postMessage(own, 'order.created', { orderId: 'b' });
    const result = await listen.done;
    expect(result.code).toBe(0);
    const events = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event: string; status?: number; forwarded?: number });
    expect(events.map((e) => e.event)).toEqual(['ready', 'forwarded', 'forwarded', 'stopped']);
    expect(events.at(-1)).toMatchObject({ forwarded: 2 });
    // The local server got both, with headers and bodies it verifies with the secret listen printed.
    const webhook = new Webhook(ready.secret);
    expect(receiver.requests.map((r) => (webhook.verify(r.body, r.headers) as { id: string }).id).sort()).toEqual(
      [first.id, second.id].sort(),
    );
    expect((await call('GET', `/v1/endpoints/${ready.endpointId}`, { key: own.key })).status).toBe(404);
  }, 60_000);

  test('listen keeps a delivery the local server refused and forwards it again; Ctrl-C stops and cleans up', async () => {
    const own = await createTenant('cli listen retry');
    await putEventType(own, 'order.created');
    const receiver = await receivers.start((request, index, res) => respondWith(index === 0 ? 503 : 200)(request, index, res));
    const listen = sluice(own, ['listen', '--forward', receiver.url]);
    await eventually(async () => (listen.output().includes('secret  whsec_') ? true : undefined), 'listen to be ready');
    const endpointId = /endpoint (ep_\w+)/.exec(listen.output())?.[1] ?? '';
    await postMessage(own, 'order.created', { orderId: 'retry-me' });
    await receiver.waitFor(2, 20_000);
    await eventually(async () => (/ 200 /.test(listen.output()) ? true : undefined), 'the second forward reported');
    listen.child.kill('SIGINT');
    const result = await listen.done;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/ 503 +order\.created {2}dlv_\w+ {2}\d+ ms {2}\(kept: tried again in 5 s\)/);
    expect(result.stdout).toContain(`Stopped: 1 forwarded; endpoint ${endpointId} deleted`);
    expect(receiver.requests[0]?.headers['webhook-id']).toBe(receiver.requests[1]?.headers['webhook-id']);
    expect((await call('GET', `/v1/endpoints/${endpointId}`, { key: own.key })).status).toBe(404);
  }, 60_000);
});
