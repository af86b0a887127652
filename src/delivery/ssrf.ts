// The SSRF guard: hooks may only point at public addresses, unless an address is inside an allow-listed CIDR
// (self-hosters' internal receivers). Checked when a hook is saved (checkUrl) and again on every connection
// (lookup, for undici's connect option), so the address actually connected to is the address checked: a DNS
// answer that changes between the two (rebinding) gains nothing.
import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

export class RefusedTargetError extends Error {
  readonly code = 'HL_REFUSED_TARGET';
  constructor(
    readonly address: string,
    readonly reason: string,
  ) {
    super(`refused target address ${address} (${reason})`);
  }
}

export interface ResolvedAddress {
  address: string;
  family: number;
}
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

const systemResolver: Resolver = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

/** The IPv4 address carried in bits [from, from + 32) of an IPv6 address. */
function embedded(v6: ipaddr.IPv6, fromBit: number, xor = 0): ipaddr.IPv4 {
  const bytes = v6.toByteArray();
  const at = fromBit / 8;
  return new ipaddr.IPv4(bytes.slice(at, at + 4).map((b) => b ^ xor));
}

const v6 = (text: string) => ipaddr.IPv6.parseCIDR(text);
const NAT64_WELL_KNOWN = v6('64:ff9b::/96');
const NAT64_LOCAL = v6('64:ff9b:1::/48');
const SIX_TO_FOUR = v6('2002::/16');
const TEREDO = v6('2001::/32');
const IPV4_COMPATIBLE = v6('::/96');
const GLOBAL_UNICAST = v6('2000::/3');

export class TargetGuard {
  private readonly allowed: [Address, number][];
  private readonly resolve: Resolver;
  /** lookups in progress, by host name (resolveShared) */
  private readonly resolving = new Map<string, Promise<ResolvedAddress[]>>();

  constructor(allowedCidrs: readonly string[] = [], options: { resolve?: Resolver } = {}) {
    this.allowed = allowedCidrs.map((c) => ipaddr.parseCIDR(c));
    this.resolve = options.resolve ?? systemResolver;
  }

  private inAllowList(a: Address): boolean {
    return this.allowed.some(([net, bits]) => a.kind() === net.kind() && a.match(net, bits));
  }

  /** Why the address is refused, or null when a hook may connect to it. */
  refusal(text: string): string | null {
    if (!ipaddr.isValid(text)) return 'not an IP address';
    return this.check(ipaddr.parse(text));
  }

  private check(a: Address): string | null {
    if (this.inAllowList(a)) return null;
    if (a.kind() === 'ipv4') {
      const range = a.range();
      // Only plain public unicast: private, loopback, link-local (169.254.169.254, cloud metadata),
      // CGNAT, multicast, broadcast, unspecified and the reserved/documentation ranges are all refused.
      return range === 'unicast' ? null : range;
    }
    const a6 = a as ipaddr.IPv6;
    // Addresses that carry an IPv4 address are judged by it: ::ffff:10.0.0.1 is 10.0.0.1.
    if (a6.isIPv4MappedAddress() || a6.range() === 'rfc6145')
      return this.embeddedRefusal(a6.toIPv4Address(), 'IPv4-mapped');
    if (a6.match(NAT64_WELL_KNOWN)) return this.embeddedRefusal(embedded(a6, 96), 'NAT64');
    if (a6.match(NAT64_LOCAL)) return 'NAT64 local-use';
    if (a6.match(SIX_TO_FOUR)) return this.embeddedRefusal(embedded(a6, 16), '6to4');
    // Teredo carries the client's address inverted in the last 32 bits, and the server's in bits 32–63.
    if (a6.match(TEREDO)) {
      return this.embeddedRefusal(embedded(a6, 96, 0xff), 'Teredo') ?? this.embeddedRefusal(embedded(a6, 32), 'Teredo');
    }
    const range = a6.range();
    if (range !== 'unicast') return range;
    if (a6.match(IPV4_COMPATIBLE)) return 'IPv4-compatible (deprecated)';
    // Everything outside 2000::/3 is unassigned or special use.
    if (!a6.match(GLOBAL_UNICAST)) return 'not global unicast';
    return null;
  }

  private embeddedRefusal(v4: ipaddr.IPv4, how: string): string | null {
    const r = this.check(v4);
    return r === null ? null : `${how} ${v4.toString()}: ${r}`;
  }

  /** Throws RefusedTargetError unless the address is allowed. */
  assertAllowed(address: string): void {
    const reason = this.refusal(address);
    if (reason !== null) throw new RefusedTargetError(address, reason);
  }

  /** Every address the host resolves to must be allowed (a mix of public and private is refused). */
  async resolveChecked(hostname: string): Promise<ResolvedAddress[]> {
    const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
    const family = net.isIP(host);
    const addresses = family ? [{ address: host, family }] : await this.resolveShared(host);
    if (addresses.length === 0) throw Object.assign(new Error(`${host} does not resolve`), { code: 'ENOTFOUND' });
    for (const a of addresses) this.assertAllowed(a.address);
    return addresses;
  }

  /**
   * One lookup at a time per host name, its answer shared by every connection that asks meanwhile (and each
   * checks it). The system's resolver (getaddrinfo) runs on libuv's thread pool, four threads for the whole
   * process: a host whose DNS hangs would otherwise hold one thread per connection attempt, and a hook's 16
   * attempts at once would hold them all, so that no other hook could open a connection until they gave up.
   * Nothing is kept once the answer is in: the next connection asks again.
   */
  private resolveShared(host: string): Promise<ResolvedAddress[]> {
    let answer = this.resolving.get(host);
    if (!answer) {
      answer = this.resolve(host).finally(() => this.resolving.delete(host));
      this.resolving.set(host, answer);
    }
    return answer;
  }

  /**
   * Checks a hook URL when it is saved: http or https, and its host resolves to allowed addresses only.
   * Answers the problem as text, or null when the URL is acceptable.
   */
  async checkUrl(url: string): Promise<string | null> {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return 'is not a valid URL';
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'must be an http:// or https:// URL';
    if (u.username || u.password) return 'must not contain credentials (use the secret to authenticate)';
    try {
      await this.resolveChecked(u.hostname);
      return null;
    } catch (e) {
      if (e instanceof RefusedTargetError) return `points to a ${e.message}: not a public address`;
      return `host ${u.hostname} does not resolve (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
    }
  }

  /**
   * dns.lookup-compatible function for net/tls connect (undici's `connect: { lookup }`): resolves, refuses
   * the connection unless every address is allowed, and hands the checked addresses to the socket.
   * (Node skips lookup for IP-literal hosts: the sender checks those itself with assertAllowed.)
   */
  readonly lookup = (
    hostname: string,
    options: dns.LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void,
  ): void => {
    this.resolveChecked(hostname).then(
      (all) => {
        const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
        const wanted = family === 4 || family === 6 ? all.filter((a) => a.family === family) : all;
        if (wanted.length === 0) {
          callback(Object.assign(new Error(`${hostname} has no IPv${family} address`), { code: 'ENOTFOUND' }), '');
        } else if (options.all) callback(null, wanted);
        else callback(null, wanted[0].address, wanted[0].family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };
}
