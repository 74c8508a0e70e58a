/**
 * `sluice`: the Sluice API from a terminal or a script. Every command talks to a running Sluice
 * (`SLUICE_URL`, `SLUICE_KEY`, or `--api-url` and `--key`) through the typed client generated from
 * the OpenAPI document, so the CLI cannot drift from the API it calls.
 *
 * Exit codes: 0 done; 1 the API refused the request, or a signature did not verify; 2 the
 * command line is wrong; 3 Sluice could not be reached, or failed (5xx).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { Webhook } from 'standardwebhooks';
import { ApiError, type Connection, clientOf, must, type SluiceClient, UnreachableError } from './api.ts';
import { paint, printJson, printJsonLine, printTable, statusColour } from './output.ts';

export const exitCodes = { ok: 0, refused: 1, usage: 2, unavailable: 3 } as const;

/** A wrong command line found after parsing (a flag's value, a file that is not JSON). */
class UsageError extends Error {}

interface GlobalOptions {
  readonly apiUrl: string;
  readonly key?: string;
  readonly json?: boolean;
}

const deliveryStatuses = ['pending', 'succeeded', 'failed', 'dead', 'acknowledged'] as const;
const replayScopes = ['failed', 'dead', 'all'] as const;

/** `30s`, `15m`, `1h`, `2d` ago, or an ISO 8601 time. */
export function parseSince(value: string, now = Date.now()): string {
  const relative = /^(\d+)([smhd])$/.exec(value);
  if (relative) {
    const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now - Number(relative[1]) * unit * 1000).toISOString();
  }
  if (/^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(Date.parse(value))) return new Date(value).toISOString();
  throw new InvalidArgumentError('give a duration ago (30s, 15m, 1h, 2d) or an ISO 8601 time (2026-11-30T08:00:00Z)');
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('give a whole number of 1 or more');
  return n;
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** `--data`: inline JSON, `@file.json`, or `-` for standard input. */
function readData(value: string): unknown {
  const text = value === '-' ? readFileSync(0, 'utf8') : value.startsWith('@') ? readFile(value.slice(1)) : value;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--data is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function readFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new UsageError(`cannot read ${path}`);
  }
}

function connectionOf(options: GlobalOptions): Connection {
  if (!options.key) throw new UsageError('no API key: set SLUICE_KEY or pass --key');
  return { url: options.apiUrl, key: options.key };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const time = (iso: string | undefined) => (iso ? iso.slice(11, 19) : '--:--:--');

async function allEndpoints(api: SluiceClient) {
  const endpoints = [];
  let cursor: string | undefined;
  do {
    const page = await must(api.GET('/v1/endpoints', { params: { query: { limit: 100, ...(cursor && { cursor }) } } }));
    endpoints.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return endpoints;
}

/** The program; `run` parses and executes it. Separate so tests can read its help. */
export function program(): Command {
  const cli = new Command('sluice')
    .description('Send events, manage endpoints, follow and replay deliveries, verify signatures.')
    .addOption(new Option('--api-url <url>', 'Sluice API base URL').env('SLUICE_URL').default('http://127.0.0.1:3000'))
    .addOption(new Option('--key <key>', 'API key (sent as a bearer token; never printed)').env('SLUICE_KEY'))
    .option('--json', 'print JSON instead of text')
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nExit codes: 0 done, 1 refused by the API or signature invalid, 2 bad command line, 3 Sluice unreachable or failing.',
    );
  const globals = () => cli.opts<GlobalOptions>();
  /** The API, as the global options name it; a missing key is a usage error. */
  const connect = () => clientOf(connectionOf(globals()));

  cli
    .command('send')
    .description('Send an event (POST /v1/messages)')
    .argument('<type>', 'event type, such as lock.unlocked')
    .option('-d, --data <json>', 'the payload: inline JSON, @file.json, or - for standard input', '{}')
    .option('--idempotency-key <key>', 'a repeat with the same key within 24 h is the same message')
    .option('--deliver-at <time>', 'send later: an ISO 8601 time up to 7 days ahead')
    .action(async (type: string, options: { data: string; idempotencyKey?: string; deliverAt?: string }) => {
      const api = connect();
      const message = await must(
        api.POST('/v1/messages', {
          params: { header: options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {} },
          body: {
            type,
            payload: readData(options.data) as Record<string, unknown>,
            ...(options.deliverAt && { deliverAt: options.deliverAt }),
          },
        }),
      );
      if (globals().json) printJson(message);
      else
        process.stdout.write(`${message.id}  ${message.type}  ${message.status}${message.deliverAt ? ` at ${message.deliverAt}` : ''}\n`);
    });

  const endpoints = cli.command('endpoints').description('List, create, disable and enable endpoints');
  endpoints
    .command('list')
    .description('Every endpoint of the tenant')
    .action(async () => {
      const all = await allEndpoints(connect());
      if (globals().json) return printJson(all);
      printTable(
        ['ID', 'STATE', 'MODE', 'EVENT TYPES', 'URL'],
        all.map((e) => [
          e.id,
          e.disabled ? paint('red', 'disabled') : e.failingSince ? paint('yellow', 'failing') : paint('green', 'enabled'),
          e.mode,
          e.eventTypes?.join(',') ?? '*',
          e.url ?? '(pulls from the inbox)',
        ]),
      );
    });
  endpoints
    .command('create')
    .description('Create an endpoint; prints its signing secret, which is shown only here and by GET /v1/endpoints/{id}/secret')
    .option('--url <url>', 'where deliveries are POSTed (every endpoint has one but a poll endpoint)')
    .option('--types <types>', 'comma-separated event types (default: every type)', list)
    .option('--description <text>', 'what it is for')
    .option('--rate-limit <perSecond>', 'at most this many attempts a second', positiveInteger)
    .addOption(
      new Option(
        '--mode <mode>',
        'full: POSTed; thin: empty signed notifications, fetched and acknowledged; poll: no url, pulled and acknowledged',
      )
        .choices(['full', 'thin', 'poll'] as const)
        .default('full'),
    )
    .action(
      async (options: { url?: string; types?: string[]; description?: string; rateLimit?: number; mode: 'full' | 'thin' | 'poll' }) => {
        const created = await must(
          connect().POST('/v1/endpoints', {
            body: {
              ...(options.url && { url: options.url }),
              ...(options.types && { eventTypes: options.types }),
              ...(options.description && { description: options.description }),
              ...(options.rateLimit && { rateLimitPerSecond: options.rateLimit }),
              mode: options.mode,
            },
          }),
        );
        if (globals().json) return printJson(created);
        process.stdout.write(`${created.id}  ${created.url ?? created.mode}\nsecret  ${created.secret}\n`);
      },
    );
  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    endpoints
      .command(name)
      .description(disabled ? 'Stop deliveries to an endpoint (they wait, and resume when it is enabled)' : 'Resume an endpoint')
      .argument('<id>', 'endpoint id (ep_…)')
      .action(async (id: string) => {
        const updated = await must(connect().PATCH('/v1/endpoints/{id}', { params: { path: { id } }, body: { disabled } }));
        if (globals().json) return printJson(updated);
        process.stdout.write(`${updated.id}  ${updated.disabled ? 'disabled' : 'enabled'}\n`);
      });
  }

  cli
    .command('tail')
    .description('Follow deliveries as they are made, a line each, coloured by outcome (Ctrl-C stops)')
    .option('--endpoint <id>', 'only this endpoint (default: every endpoint of the tenant)')
    .addOption(new Option('--status <status>', 'only deliveries in this status').choices(deliveryStatuses))
    .option('--since <when>', 'start this far back (30s, 15m, 1h) or at this time', (v) => parseSince(v), undefined)
    .option('--interval <seconds>', 'seconds between polls', positiveInteger, 1)
    .option('--count <n>', 'stop after this many lines', positiveInteger)
    .action(async (options: { endpoint?: string; status?: string; since?: string; interval: number; count?: number }) => {
      const api = connect();
      const after = options.since ?? new Date().toISOString();
      const seen = new Map<string, string>();
      let printed = 0;
      let endpointIds: string[] = options.endpoint ? [options.endpoint] : [];
      for (let poll = 0; ; poll++) {
        // Endpoints created while tailing are picked up every ten polls.
        if (!options.endpoint && poll % 10 === 0) endpointIds = (await allEndpoints(api)).map((e) => e.id);
        const found = [];
        for (const id of endpointIds) {
          const page = await must(
            api.GET('/v1/endpoints/{id}/deliveries', {
              params: {
                path: { id },
                query: { after, limit: 100, ...(options.status && { status: options.status as (typeof deliveryStatuses)[number] }) },
              },
            }),
          );
          found.push(...page.data);
        }
        // Oldest first, and again when a delivery's state moves on (a retry, a success after failures).
        for (const d of found.sort((a, b) => (a.id < b.id ? -1 : 1))) {
          const state = `${d.status}#${d.attemptCount}`;
          if (seen.get(d.id) === state) continue;
          seen.set(d.id, state);
          if (globals().json) printJsonLine(d);
          else
            process.stdout.write(
              `${time(d.lastAttemptAt ?? d.createdAt)}  ${paint(statusColour(d.status), d.status.padEnd(12))}  ${String(d.lastStatusCode ?? '-').padEnd(3)}  ${d.eventType}  ${d.id}  ${d.endpointId}  attempt ${d.attemptCount}${d.lastError ? `  ${paint('gray', d.lastError)}` : ''}\n`,
            );
          if (options.count !== undefined && ++printed >= options.count) return;
        }
        await sleep(options.interval * 1000);
      }
    });

  cli
    .command('replay')
    .description('Replay an endpoint’s deliveries in the background (POST /v1/endpoints/{id}/replay)')
    .requiredOption('--endpoint <id>', 'endpoint id (ep_…)')
    .requiredOption('--since <when>', 'from this far back (30m, 1h, 2d) or this time', (v) => parseSince(v))
    .option('--until <when>', 'up to this far back or this time (default: now)', (v) => parseSince(v))
    .addOption(new Option('--status <scope>', 'failed (failing or dead), dead, or all').choices(replayScopes).default('failed'))
    .option('--types <types>', 'only these comma-separated event types', list)
    .option('--wait', 'follow the task until it is done')
    .action(async (options: { endpoint: string; since: string; until?: string; status: string; types?: string[]; wait?: boolean }) => {
      const api = connect();
      let task = await must(
        api.POST('/v1/endpoints/{id}/replay', {
          params: { path: { id: options.endpoint } },
          body: {
            since: options.since,
            ...(options.until && { until: options.until }),
            ...(options.types && { eventTypes: options.types }),
            status: options.status as (typeof replayScopes)[number],
          },
        }),
      );
      const show = () => {
        if (globals().json) printJsonLine(task);
        else
          process.stdout.write(
            `${task.id}  ${paint(task.status === 'failed' ? 'red' : task.status === 'done' ? 'green' : 'gray', task.status)}  scanned ${task.counts.scanned}, queued ${task.counts.queued}${task.error ? `  ${task.error}` : ''}\n`,
          );
      };
      show();
      while (options.wait && (task.status === 'queued' || task.status === 'running')) {
        await sleep(1000);
        const next = await must(api.GET('/v1/tasks/{id}', { params: { path: { id: task.id } } }));
        const moved = next.status !== task.status || next.counts.queued !== task.counts.queued;
        task = next;
        if (moved) show();
      }
      if (task.status === 'failed') process.exitCode = exitCodes.refused;
    });

  cli
    .command('portal')
    .description('Open a portal session and print its link (POST /v1/portal-sessions)')
    .addOption(new Option('--capability <capability>', 'read: look only; manage: also change').choices(['read', 'manage']).default('read'))
    .option('--expires <seconds>', 'how long the link works: 60 to 86400 seconds', positiveInteger, 3600)
    .option('--tenant <id>', "the tenant (with the root key; an admin key's own otherwise)")
    .action(async (options: { capability: 'read' | 'manage'; expires: number; tenant?: string }) => {
      const api = connect();
      const session = await must(
        api.POST('/v1/portal-sessions', {
          body: { capability: options.capability, expiresInSeconds: options.expires, ...(options.tenant && { tenantId: options.tenant }) },
        }),
      );
      // The link signs its holder in until it expires: printed for the person who asked, never logged.
      if (globals().json) printJson(session);
      else
        process.stdout.write(
          `${session.url}\n${paint('gray', `${session.capability}, for ${session.tenantId}, until ${session.expiresAt}`)}\n`,
        );
    });

  cli
    .command('listen')
    .description(
      'Forward deliveries to a local server, with no tunnel: a temporary poll endpoint is pulled, each delivery POSTed on with its signed headers and acknowledged on a 2xx; Ctrl-C deletes the endpoint',
    )
    .requiredOption('--forward <url>', 'where to POST each delivery, such as http://localhost:4000/hook')
    .option('--types <types>', 'only these comma-separated event types (default: every type)', list)
    .option('--interval <seconds>', 'seconds between pulls', positiveInteger, 1)
    .option('--count <n>', 'stop after forwarding this many', positiveInteger)
    .action(async (options: { forward: string; types?: string[]; interval: number; count?: number }) => {
      const api = connect();
      const endpoint = await must(
        api.POST('/v1/endpoints', {
          body: {
            mode: 'poll',
            description: `sluice listen → ${options.forward.slice(0, 900)} (temporary)`,
            ...(options.types && { eventTypes: options.types }),
          },
        }),
      );
      const say = (event: Record<string, unknown>, text: string) => {
        if (globals().json) printJsonLine(event);
        else process.stdout.write(`${text}\n`);
      };
      say(
        { event: 'ready', endpointId: endpoint.id, secret: endpoint.secret, forward: options.forward },
        `Ready: ${options.types?.join(', ') ?? 'every event type'} → ${options.forward} (endpoint ${endpoint.id}, deleted on Ctrl-C)\nsecret  ${endpoint.secret}  (your server verifies with it)`,
      );
      let stopping = false;
      const stop = () => {
        stopping = true;
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      // A delivery the local server refused is tried again after a pause, not on every pull.
      const retryAt = new Map<string, number>();
      let forwarded = 0;
      try {
        while (!stopping && (options.count === undefined || forwarded < options.count)) {
          const page = await must(api.GET('/v1/inbox', { params: { query: { endpointId: endpoint.id, limit: 100 } } }));
          for (const entry of [...page.data].reverse()) {
            if (stopping || (options.count !== undefined && forwarded >= options.count)) break;
            if ((retryAt.get(entry.deliveryId) ?? 0) > Date.now()) continue;
            const item = await must(api.GET('/v1/inbox/{id}', { params: { path: { id: entry.deliveryId } } }));
            if (!item.request) continue;
            const started = performance.now();
            let status: number | string;
            try {
              const answer = await fetch(options.forward, { method: 'POST', headers: item.request.headers, body: item.request.body });
              status = answer.status;
            } catch (error) {
              status = error instanceof Error && error.cause instanceof Error ? error.cause.message : 'unreachable';
            }
            const ms = Math.round(performance.now() - started);
            const ok = typeof status === 'number' && status >= 200 && status < 300;
            if (ok) {
              await must(api.POST('/v1/inbox/{id}/ack', { params: { path: { id: entry.deliveryId } } }));
              forwarded++;
              retryAt.delete(entry.deliveryId);
            } else retryAt.set(entry.deliveryId, Date.now() + 5000);
            say(
              { event: ok ? 'forwarded' : 'refused', deliveryId: entry.deliveryId, type: entry.type, status, durationMs: ms },
              `${time(new Date().toISOString())}  ${paint(ok ? 'green' : 'red', String(status).padEnd(3))}  ${entry.type}  ${entry.deliveryId}  ${ms} ms${ok ? '' : '  (kept: tried again in 5 s)'}`,
            );
          }
          if (!stopping && (options.count === undefined || forwarded < options.count)) await sleep(options.interval * 1000);
        }
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        await must(api.DELETE('/v1/endpoints/{id}', { params: { path: { id: endpoint.id } } }));
        say({ event: 'stopped', endpointId: endpoint.id, forwarded }, `Stopped: ${forwarded} forwarded; endpoint ${endpoint.id} deleted`);
      }
    });

  cli
    .command('verify')
    .description(
      'Verify the signature of a captured request read from standard input: the request line (optional), headers, a blank line, the body',
    )
    .requiredOption('--secret <secret>', 'the endpoint’s signing secret (whsec_…)')
    .option('--allow-old', 'accept a timestamp more than 5 minutes from now (a receiver must not)')
    .action((options: { secret: string; allowOld?: boolean }) => {
      const { headers, body } = parseRequest(readFileSync(0, 'utf8'));
      const outcome = verifySignature(options.secret, headers, body, options.allowOld ?? false);
      if (globals().json) printJson(outcome);
      else if (outcome.valid) process.stdout.write(`${paint('green', 'valid')}  ${outcome.messageId}  signed at ${outcome.signedAt}\n`);
      else process.stdout.write(`${paint('red', 'invalid')}  ${outcome.reason}\n`);
      if (!outcome.valid) process.exitCode = exitCodes.refused;
    });

  return cli;
}

/** A request as captured: an optional request line, headers up to a blank line, and the body byte for byte. */
export function parseRequest(text: string): { headers: Record<string, string>; body: string } {
  const split = /\r?\n\r?\n/.exec(text);
  const head = split ? text.slice(0, split.index) : text;
  const body = split ? text.slice(split.index + split[0].length) : '';
  const headers: Record<string, string> = {};
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0 || / HTTP\/\d/.test(line)) continue;
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body };
}

export type Verification =
  | { readonly valid: true; readonly messageId: string; readonly signedAt: string }
  | { readonly valid: false; readonly reason: string };

/** Standard Webhooks verification (the `standardwebhooks` library); `allowOld` skips only its 5-minute window. */
export function verifySignature(secret: string, headers: Record<string, string>, body: string, allowOld: boolean): Verification {
  let webhook: Webhook;
  try {
    webhook = new Webhook(secret);
  } catch {
    return { valid: false, reason: 'the secret is not a signing secret (whsec_ followed by base64)' };
  }
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  if (!id || !timestamp || !headers['webhook-signature']) {
    return { valid: false, reason: 'missing webhook-id, webhook-timestamp or webhook-signature header' };
  }
  const signedAt = new Date(Number(timestamp) * 1000);
  try {
    webhook.verify(body, headers, { jsonParse: false });
    return { valid: true, messageId: id, signedAt: signedAt.toISOString() };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (!allowOld || !/timestamp/i.test(reason) || Number.isNaN(signedAt.getTime())) return { valid: false, reason };
    // Too old (or new) for a live request: check the signature alone, with the library's own signing.
    const expected = webhook.sign(id, signedAt, body);
    const given = (headers['webhook-signature'] ?? '').split(' ');
    return given.includes(expected)
      ? { valid: true, messageId: id, signedAt: signedAt.toISOString() }
      : { valid: false, reason: 'No matching signature found' };
  }
}

/** Runs the CLI and sets the exit code; errors become one line on stderr. */
export async function run(argv: readonly string[]): Promise<void> {
  const cli = program();
  cli.exitOverride();
  for (const command of cli.commands.flatMap((c) => [c, ...c.commands])) command.exitOverride();
  try {
    await cli.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with code 0.
      process.exitCode = error.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
      return;
    }
    const [code, message] =
      error instanceof UsageError
        ? [exitCodes.usage, error.message]
        : error instanceof ApiError
          ? [error.status >= 500 ? exitCodes.unavailable : exitCodes.refused, `${error.status} ${error.code}: ${error.message}`]
          : error instanceof UnreachableError
            ? [exitCodes.unavailable, error.message]
            : [exitCodes.unavailable, error instanceof Error ? error.message : String(error)];
    process.stderr.write(`sluice: ${message}\n`);
    process.exitCode = code;
  }
}
