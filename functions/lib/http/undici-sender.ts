import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, request } from 'undici';
import type { HttpRequest, HttpResult, HttpSender } from '../core/ports.ts';
import type { AddressPolicy } from './address-policy.ts';

export const RESPONSE_BODY_LIMIT = 4096;
/** Read past the recorded 4 KiB a little, so small bodies keep the connection reusable. */
const RESPONSE_READ_LIMIT = 64 * 1024;

class BlockedAddressError extends Error {
  readonly code = 'EBLOCKED';
}

/**
 * POSTs deliveries with undici: pooled keep-alive connections, no redirects followed (a 3xx is
 * an answer, not an instruction), a hard deadline per attempt, and the address policy enforced
 * at connect time so a DNS answer that changed since the endpoint was created cannot reach a
 * forbidden address.
 */
export class UndiciHttpSender implements HttpSender {
  private readonly agent: Agent;

  constructor(private readonly policy: AddressPolicy) {
    const guardedLookup: LookupFunction = (hostname, options, callback) => {
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
    this.agent = new Agent({ connect: { lookup: guardedLookup, timeout: 10_000 }, keepAliveTimeout: 10_000, connections: 128 });
  }

  async send(req: HttpRequest): Promise<HttpResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const host = new URL(req.url).hostname.replace(/^\[|\]$/g, '');
    if (ipaddr.isValid(host)) {
      const refusal = this.policy.refusal(host);
      if (refusal) return { durationMs: elapsed(), error: { code: 'blocked_address', message: `${host} is ${refusal}` } };
    }
    try {
      const response = await request(req.url, {
        method: 'POST',
        headers: req.headers,
        body: req.body,
        dispatcher: this.agent,
        signal: AbortSignal.timeout(req.timeoutMs),
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      });
      const responseBody = await readLimited(response.body);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      return { durationMs: elapsed(), statusCode: response.statusCode, headers, responseBody };
    } catch (error) {
      return { durationMs: elapsed(), error: describeNetworkError(error, req.timeoutMs) };
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

async function readLimited(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
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
