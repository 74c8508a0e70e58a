import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import { ForbiddenDestinationError } from '../core/errors.ts';
import type { DestinationGuard } from '../core/ports.ts';

export interface AddressPolicyOptions {
  /** Allow `http:` URLs (local profile). A deployed stack requires `https:`. */
  readonly allowHttp: boolean;
  /** Allow 127.0.0.0/8 and ::1 (local profile, so receivers on this machine work). */
  readonly allowLoopback: boolean;
  /** Allow RFC 1918, CGNAT and IPv6 unique-local ranges (`SLUICE_ALLOW_PRIVATE=1`). */
  readonly allowPrivate: boolean;
}

const PRIVATE_RANGES = new Set(['private', 'carrierGradeNat', 'uniqueLocal']);
/** In ipaddr.js's normal form, so every spelling of an address compares equal. */
const METADATA_ADDRESSES = new Set(['169.254.169.254', 'fd00:ec2::254']);

/**
 * Which addresses a delivery may reach. Public unicast always; loopback and private ranges only
 * when the profile says so. Link-local (which holds the cloud metadata service, 169.254.169.254
 * and fd00:ec2::254 aside) and every other special range are refused under any profile: no
 * webhook has a reason to go there.
 */
export class AddressPolicy {
  constructor(readonly options: AddressPolicyOptions) {}

  /** Undefined when allowed, otherwise why not. */
  refusal(address: string): string | undefined {
    if (!ipaddr.isValid(address)) return `'${address}' is not an IP address`;
    let parsed = ipaddr.parse(address);
    if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
    if (METADATA_ADDRESSES.has(parsed.toString())) return 'the cloud metadata service';
    const range = parsed.range();
    if (range === 'unicast') return undefined;
    if (range === 'loopback') return this.options.allowLoopback ? undefined : 'a loopback address';
    if (PRIVATE_RANGES.has(range)) return this.options.allowPrivate ? undefined : `a private address (${range})`;
    return `a reserved address (${range})`;
  }
}

/** Checked when an endpoint is created or its URL changes; delivery re-checks at connect time. */
export class DnsDestinationGuard implements DestinationGuard {
  constructor(private readonly policy: AddressPolicy) {}

  async check(rawUrl: string): Promise<void> {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw new ForbiddenDestinationError(`'${rawUrl}' is not an absolute URL`);
    }
    const allowed = this.policy.options.allowHttp ? ['https:', 'http:'] : ['https:'];
    if (!allowed.includes(url.protocol)) {
      throw new ForbiddenDestinationError(`endpoint URLs must use ${allowed.join(' or ')}; got '${url.protocol}'`);
    }
    if (url.username || url.password) {
      throw new ForbiddenDestinationError('put credentials in `auth`, not in the URL');
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let addresses: string[];
    if (ipaddr.isValid(host)) {
      addresses = [host];
    } else {
      try {
        addresses = (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);
      } catch {
        throw new ForbiddenDestinationError(`the host '${host}' does not resolve`);
      }
    }
    for (const address of addresses) {
      const refusal = this.policy.refusal(address);
      if (refusal) throw new ForbiddenDestinationError(`'${host}' resolves to ${address}, ${refusal}, which endpoints may not target`);
    }
  }
}
