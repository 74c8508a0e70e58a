import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { HttpRequest, HttpResult, HttpSender } from '../core/ports.ts';
import type { AddressPolicy } from './address-policy.ts';

export const RESPONSE_BODY_LIMIT = 4096;
/** Read past the recorded 4 KiB a little, so small bodies keep the connection reusable. */
const RESPONSE_READ_LIMIT = 64 * 1024;
/** Sockets kept per origin: a delivery batch is at most 10 jobs, a test run a few more. */
const MAX_SOCKETS_PER_ORIGIN = 128;

class BlockedAddressError extends Error {
  readonly code = 'EBLOCKED';
}

/**
 * POSTs deliveries with Node's own HTTP client (no library: undici alone would triple the
 * delivery function's bundle): pooled keep-alive connections, no redirects followed (a 3xx is an
 * answer, not an instruction), a hard deadline per attempt covering connect, headers and body,
 * and the address policy enforced at connect time, so a DNS answer that changed since the
 * endpoint was created cannot reach a forbidden address.
 */
export class NodeHttpSender implements HttpSender {
  private readonly agents: { readonly 'http:': http.Agent; readonly 'https:': https.Agent };
  private readonly lookup: LookupFunction;

  constructor(private readonly policy: AddressPolicy) {
    this.lookup = (hostname, options, callback) => {
      dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
        if (error) return callback(error, '', 0);
        const list = addresses as unknown as LookupAddress[];
        const usable = list.filter((entry) => !policy.refusal(entry.address));
        const first = usable[0];
        if (!first) {
          const refusal = list[0] ? policy.refusal(list[0].address) : 'no address';
          return callback(new BlockedAddressError(`${hostname} resolves to ${list[0]?.address ?? 'nothing'}: ${refusal}`), '', 0);
        }
        if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
        callback(null, first.address, first.family);
      });
    };
    const pool = { keepAlive: true, keepAliveMsecs: 10_000, maxSockets: MAX_SOCKETS_PER_ORIGIN, scheduling: 'lifo' as const };
    this.agents = { 'http:': new http.Agent(pool), 'https:': new https.Agent(pool) };
  }

  async send(req: HttpRequest): Promise<HttpResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const url = new URL(req.url);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (ipaddr.isValid(host)) {
      const refusal = this.policy.refusal(host);
      if (refusal) return { durationMs: elapsed(), error: { code: 'blocked_address', message: `${host} is ${refusal}` } };
    }
    const deadline = AbortSignal.timeout(req.timeoutMs);
    try {
      const response = await this.post(url, req, deadline);
      const responseBody = await readLimited(response);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      return { durationMs: elapsed(), statusCode: response.statusCode, headers, responseBody };
    } catch (error) {
      // Past the deadline, whatever the socket reported as it was torn down, the attempt timed out.
      return { durationMs: elapsed(), error: describeNetworkError(deadline.aborted ? deadline.reason : error, req.timeoutMs) };
    }
  }

  /**
   * The response once its headers arrived; the deadline's signal also ends reading its body.
   *
   * A pooled connection that the receiver closed while it sat idle (its keep-alive timeout, 5 s
   * in Node's server) fails the request written to it in that instant with a reset before any
   * answer. That says nothing about the endpoint, so the request goes once more on a fresh
   * connection, within the same deadline: Node's documented remedy (`request.reusedSocket`).
   * A reset on a fresh connection, or after the answer began, is the attempt's outcome.
   */
  private post(url: URL, req: HttpRequest, deadline: AbortSignal, mayRetryStale = true): Promise<IncomingMessage> {
    const body = Buffer.from(req.body, 'utf8');
    const client = url.protocol === 'https:' ? https : http;
    const agent = url.protocol === 'https:' ? this.agents['https:'] : this.agents['http:'];
    return new Promise((resolve, reject) => {
      const request = client.request(url, {
        method: 'POST',
        headers: { ...req.headers, 'content-length': String(body.length) },
        agent,
        lookup: this.lookup,
        signal: deadline,
      });
      let answered = false;
      request.once('response', (response) => {
        answered = true;
        resolve(response);
      });
      request.once('error', (error: NodeJS.ErrnoException) => {
        const staleConnection = request.reusedSocket && !answered && (error.code === 'ECONNRESET' || error.code === 'EPIPE');
        if (staleConnection && mayRetryStale && !deadline.aborted) resolve(this.post(url, req, deadline, false));
        else reject(error);
      });
      request.end(body);
    });
  }

  async close(): Promise<void> {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }
}

async function readLimited(body: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let read = 0;
  for await (const chunk of body) {
    read += chunk.length;
    if (read - chunk.length < RESPONSE_BODY_LIMIT) chunks.push(chunk);
    if (read >= RESPONSE_READ_LIMIT) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, RESPONSE_BODY_LIMIT).toString('utf8');
}

export function describeNetworkError(error: unknown, timeoutMs: number): { code: string; message: string } {
  const err = error as { name?: unknown; code?: unknown; message?: string; cause?: { code?: unknown; message?: string } };
  // AbortSignal.timeout() raises a DOMException whose `code` is a number (23): only string codes count.
  const code = [err.cause?.code, err.code, err.name].find((c): c is string => typeof c === 'string') ?? 'unknown';
  const message = err.cause?.message ?? err.message ?? String(error);
  switch (code) {
    case 'TimeoutError':
    case 'AbortError':
    case 'ABORT_ERR':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { code: 'timeout', message: `no complete response within ${timeoutMs} ms` };
    case 'ECONNREFUSED':
      return { code: 'connection_refused', message };
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
    case 'EPIPE':
      return { code: 'connection_reset', message };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return { code: 'dns_failure', message };
    case 'EBLOCKED':
      return { code: 'blocked_address', message };
    default:
      if (/TLS|SSL|CERT/i.test(code)) return { code: 'tls_error', message };
      return { code: 'network_error', message: `${code}: ${message}` };
  }
}
