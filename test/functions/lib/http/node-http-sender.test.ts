import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { HttpRequest } from '../../../../functions/lib/core/ports.ts';
import { AddressPolicy } from '../../../../functions/lib/http/address-policy.ts';
import { describeNetworkError, NodeHttpSender, RESPONSE_BODY_LIMIT } from '../../../../functions/lib/http/node-http-sender.ts';

// A real HTTP server on 127.0.0.1: the sender is exercised over the network, not mocked.

interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

const received: Received[] = [];
const sockets = new Set<Socket>();
/** 10 KB with a recognisable pattern, so the truncation point can be checked exactly. */
const bigBody = Array.from({ length: 10_240 }, (_, i) => String.fromCharCode(65 + (i % 26))).join('');

function route(req: IncomingMessage, res: ServerResponse, body: string): void {
  received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
  switch (req.url) {
    case '/ok':
      res.writeHead(200, { 'content-type': 'text/plain', 'x-receiver': 'yes' });
      res.end(bigBody);
      return;
    case '/small':
      res.writeHead(202);
      res.end('accepted');
      return;
    case '/redirect':
      res.writeHead(302, { location: '/target' });
      res.end();
      return;
    case '/target':
      res.writeHead(200);
      res.end('you followed a redirect');
      return;
    case '/busy':
      res.writeHead(429, { 'retry-after': '120' });
      res.end('slow down');
      return;
    case '/hang':
      return; // never answers
    case '/reset':
      res.writeHead(200, { 'content-length': '100000' });
      res.write('partial', () => res.socket?.destroy());
      return;
    default:
      res.writeHead(404);
      res.end();
  }
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => route(req, res, Buffer.concat(chunks).toString('utf8')));
});
server.on('connection', (socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
});

let port = 0;
let closedPort = 0;
const sender = new NodeHttpSender(new AddressPolicy({ allowHttp: true, allowLoopback: true, allowPrivate: false }));
const strictSender = new NodeHttpSender(new AddressPolicy({ allowHttp: true, allowLoopback: false, allowPrivate: false }));

beforeAll(async () => {
  port = await listen(server);
  const doomed = createServer();
  closedPort = await listen(doomed);
  await close(doomed);
});

afterAll(async () => {
  await Promise.all([sender.close(), strictSender.close()]);
  for (const socket of sockets) socket.destroy();
  await close(server);
});

beforeEach(() => {
  received.length = 0;
});

function post(path: string, overrides: Partial<HttpRequest> = {}): HttpRequest {
  return {
    url: `http://127.0.0.1:${port}${path}`,
    headers: { 'content-type': 'application/json', 'user-agent': 'Sluice/1.0', 'x-sluice-attempt': '1' },
    body: '{"id":"msg_1","data":{"a":1}}',
    timeoutMs: 5000,
    ...overrides,
  };
}

describe('NodeHttpSender', () => {
  test('POSTs the body and headers, records status, headers and the first 4 KiB of a 10 KB body', async () => {
    const result = await sender.send(post('/ok'));
    expect(result.error).toBeUndefined();
    expect(result.statusCode).toBe(200);
    expect(result.headers?.['x-receiver']).toBe('yes');
    expect(RESPONSE_BODY_LIMIT).toBe(4096);
    expect(result.responseBody).toHaveLength(4096);
    expect(result.responseBody).toBe(bigBody.slice(0, 4096));
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ method: 'POST', path: '/ok', body: '{"id":"msg_1","data":{"a":1}}' });
    expect(received[0]?.headers['user-agent']).toBe('Sluice/1.0');
    expect(received[0]?.headers['x-sluice-attempt']).toBe('1');
    expect(received[0]?.headers['content-type']).toBe('application/json');
  });

  test('a small body is recorded whole; the connection is reused for the next request', async () => {
    const first = await sender.send(post('/small'));
    const second = await sender.send(post('/small'));
    expect([first.statusCode, second.statusCode]).toEqual([202, 202]);
    expect(second.responseBody).toBe('accepted');
  });

  test('an empty body (thin mode) is sent as such', async () => {
    const result = await sender.send(post('/small', { body: '', headers: { 'x-message-id': 'dlv_1' } }));
    expect(result.statusCode).toBe(202);
    expect(received[0]?.body).toBe('');
    expect(received[0]?.headers['x-message-id']).toBe('dlv_1');
  });

  test('a 3xx is recorded and not followed', async () => {
    const result = await sender.send(post('/redirect'));
    expect(result.statusCode).toBe(302);
    expect(result.headers?.location).toBe('/target');
    expect(received.map((r) => r.path)).toEqual(['/redirect']);
  });

  test('response headers reach the caller (Retry-After on a 429)', async () => {
    const result = await sender.send(post('/busy'));
    expect(result.statusCode).toBe(429);
    expect(result.headers?.['retry-after']).toBe('120');
    expect(result.responseBody).toBe('slow down');
  });

  test('a server that never answers: the attempt ends after timeoutMs without a status', async () => {
    const started = Date.now();
    const result = await sender.send(post('/hang', { timeoutMs: 1000 }));
    expect(result.statusCode).toBeUndefined();
    expect(result.error).toBeDefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(received.map((r) => r.path)).toEqual(['/hang']);
  });

  // Regression guard, fixed (functions/lib/http/node-http-sender.ts line 93): the deadline is `AbortSignal.timeout()`,
  // whose abort reason is a DOMException named 'TimeoutError' with the legacy numeric `code` 23.
  // describeNetworkError picks `err.code` before `err.name`, so the switch sees 23 and every
  // timed-out attempt is recorded as `network_error: 23: The operation was aborted due to
  // timeout` instead of `timeout`. Fix: only use string codes, e.g.
  // `const code = [err.cause?.code, err.code, err.name].find((c) => typeof c === 'string') ?? 'unknown'`,
  // or test `err.name === 'TimeoutError' || err.name === 'AbortError'` first.
  test('a server that never answers: error code `timeout`', async () => {
    const result = await sender.send(post('/hang', { timeoutMs: 1000 }));
    expect(result.error?.code).toBe('timeout');
    expect(result.error?.message).toContain('1000 ms');
  });

  test('a closed port: connection_refused', async () => {
    const result = await sender.send(post('/ok', { url: `http://127.0.0.1:${closedPort}/ok` }));
    expect(result.statusCode).toBeUndefined();
    expect(result.error?.code).toBe('connection_refused');
  });

  test('a socket destroyed mid-response: connection_reset', async () => {
    const result = await sender.send(post('/reset'));
    expect(result.statusCode).toBeUndefined();
    expect(result.error?.code).toBe('connection_reset');
    expect(received.map((r) => r.path)).toEqual(['/reset']);
  });

  test('a host that does not resolve: dns_failure', async () => {
    const result = await sender.send(post('/', { url: 'http://nonexistent.invalid/' }));
    expect(result.statusCode).toBeUndefined();
    expect(result.error?.code).toBe('dns_failure');
  });

  test('a blocked IP literal is refused before any connection', async () => {
    const result = await strictSender.send(post('/ok'));
    expect(result.statusCode).toBeUndefined();
    expect(result.error?.code).toBe('blocked_address');
    expect(result.error?.message).toMatch(/loopback/);
    expect(received).toEqual([]);
  });

  test('a hostname resolving to a blocked address is refused at connect time', async () => {
    const result = await strictSender.send(post('/ok', { url: `http://localhost:${port}/ok` }));
    expect(result.statusCode).toBeUndefined();
    expect(result.error?.code).toBe('blocked_address');
    expect(received).toEqual([]);
  });

  test('the same hostname is reachable under a policy that allows loopback', async () => {
    const result = await sender.send(post('/small', { url: `http://localhost:${port}/small` }));
    expect(result.statusCode).toBe(202);
  });
});

describe('a pooled connection the receiver closed', () => {
  // The receiver drops the connection under the next request written to a reused connection, with
  // no answer: what a server's keep-alive timeout does to a request sent in the same instant. Then
  // it answers (`once`), or drops every request after the first, on any connection (`always`).
  // A sender of its own (an empty pool) POSTs /first, then /second, which finds /first's connection pooled.
  async function secondOnPooledConnection(drop: 'once' | 'always') {
    const seen: { path: string; reused: boolean }[] = [];
    let dropped = false;
    const requestsOn = new WeakMap<Socket, number>();
    const flaky = createServer((req, res) => {
      const socket = req.socket;
      const count = (requestsOn.get(socket) ?? 0) + 1;
      requestsOn.set(socket, count);
      seen.push({ path: req.url ?? '', reused: count > 1 });
      if ((drop === 'once' && count > 1 && !dropped) || (drop === 'always' && seen.length > 1)) {
        dropped = true;
        socket.destroy();
        return;
      }
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    const flakyPort = await listen(flaky);
    const url = (path: string) => `http://127.0.0.1:${flakyPort}${path}`;
    const own = new NodeHttpSender(new AddressPolicy({ allowHttp: true, allowLoopback: true, allowPrivate: false }));
    try {
      const first = await own.send(post('/first', { url: url('/first') }));
      const second = await own.send(post('/second', { url: url('/second') }));
      return { first, second, seen };
    } finally {
      await own.close();
      flaky.closeAllConnections();
      await close(flaky);
    }
  }

  test('is written to once more on a fresh connection: the attempt succeeds', async () => {
    const { first, second, seen } = await secondOnPooledConnection('once');
    expect(first.statusCode).toBe(200);
    expect(second).toMatchObject({ statusCode: 200, responseBody: 'ok' });
    expect(seen).toEqual([
      { path: '/first', reused: false },
      { path: '/second', reused: true },
      { path: '/second', reused: false },
    ]);
  });

  test('only once: when the fresh connection is dropped too, the attempt ends connection_reset', async () => {
    const { first, second, seen } = await secondOnPooledConnection('always');
    expect(first.statusCode).toBe(200);
    expect(second.error?.code).toBe('connection_reset');
    expect(seen).toEqual([
      { path: '/first', reused: false },
      { path: '/second', reused: true },
      { path: '/second', reused: false },
    ]);
  });
});

describe('describeNetworkError', () => {
  test.each([
    [{ name: 'TimeoutError', message: 'aborted' }, 'timeout'],
    [{ name: 'AbortError', message: 'aborted' }, 'timeout'],
    [{ code: 'UND_ERR_HEADERS_TIMEOUT', message: 'x' }, 'timeout'],
    [{ code: 'UND_ERR_BODY_TIMEOUT', message: 'x' }, 'timeout'],
    [{ message: 'fetch failed', cause: { code: 'UND_ERR_CONNECT_TIMEOUT', message: 'x' } }, 'timeout'],
    [{ message: 'fetch failed', cause: { code: 'ECONNREFUSED', message: 'refused' } }, 'connection_refused'],
    [{ code: 'ECONNRESET', message: 'x' }, 'connection_reset'],
    [{ code: 'UND_ERR_SOCKET', message: 'other side closed' }, 'connection_reset'],
    [{ code: 'EPIPE', message: 'x' }, 'connection_reset'],
    [{ code: 'ENOTFOUND', message: 'x' }, 'dns_failure'],
    [{ code: 'EAI_AGAIN', message: 'x' }, 'dns_failure'],
    [{ code: 'EBLOCKED', message: 'x' }, 'blocked_address'],
    [{ code: 'ERR_TLS_CERT_ALTNAME_INVALID', message: 'x' }, 'tls_error'],
    [{ code: 'CERT_HAS_EXPIRED', message: 'x' }, 'tls_error'],
    [{ code: 'EHOSTUNREACH', message: 'no route' }, 'network_error'],
  ])('%p is %s', (error, code) => {
    expect(describeNetworkError(error, 1000).code).toBe(code);
  });

  test('the timeout message names the limit; others keep the cause', () => {
    expect(describeNetworkError({ name: 'TimeoutError' }, 2500).message).toBe('no complete response within 2500 ms');
    expect(
      describeNetworkError({ message: 'fetch failed', cause: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' } }, 1).message,
    ).toBe('connect ECONNREFUSED');
    expect(describeNetworkError({ code: 'EHOSTUNREACH', message: 'no route' }, 1).message).toBe('EHOSTUNREACH: no route');
    expect(describeNetworkError('weird', 1)).toEqual({ code: 'network_error', message: 'unknown: weird' });
  });

  // Regression guard, fixed (same as above, node-http-sender.ts, describeNetworkError): the real abort reason of AbortSignal.timeout()
  // carries `code: 23`, which shadows its name 'TimeoutError'.
  test('the DOMException raised by AbortSignal.timeout() is a timeout', () => {
    const reason = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(reason.code).toBe(23);
    expect(describeNetworkError(reason, 1000).code).toBe('timeout');
  });
});
