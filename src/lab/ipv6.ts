// IPv6 for lab networks, on ipaddr.js: parsing and printing (RFC 5952), /64 prefixes in the unique local range,
// host addresses by offset, and the SLAAC address (modified EUI-64) a guest forms from its MAC.
import ipaddr from 'ipaddr.js';

export interface Cidr6 {
  /** the prefix as a 128-bit number */
  network: bigint;
  prefix: number;
  text: string;
}

/** Lab networks are /64s: SLAAC needs 64 bits of interface identifier. */
export const PREFIX6 = 64;

const toBig = (a: ipaddr.IPv6) => a.parts.reduce((n, p) => (n << 16n) | BigInt(p), 0n);

/** A plain IPv6 address (no zone, no IPv4 form) as a number, or undefined. */
export function parseIp6(s: string): bigint | undefined {
  if (typeof s !== 'string' || !s.includes(':') || s.includes('%') || !ipaddr.IPv6.isValid(s)) return undefined;
  return toBig(ipaddr.IPv6.parse(s));
}

export function formatIp6(n: bigint): string {
  const parts: number[] = [];
  for (let i = 7; i >= 0; i--) parts.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  return new ipaddr.IPv6(parts).toRFC5952String();
}

const mask6 = (prefix: number) => ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - prefix)) - 1n);

/** What the address is, when it cannot be a lab address (multicast, link-local, ...); undefined for unique local. */
export function unusable6(n: bigint): string | undefined {
  const range = ipaddr.IPv6.parse(formatIp6(n)).range();
  return range === 'uniqueLocal' ? undefined : `a ${range.replace(/([A-Z])/g, ' $1').toLowerCase()} address`;
}

export function parseCidr6(s: string): Cidr6 | { error: string } {
  const [ip, len, extra] = String(s).split('/');
  const addr = parseIp6(ip ?? '');
  if (addr === undefined || extra !== undefined) return { error: `"${s}" is not an IPv6 prefix (like fd00:100::/64)` };
  if (len !== String(PREFIX6))
    return { error: `"${s}": the prefix length must be ${PREFIX6} (SLAAC forms a 64-bit interface identifier)` };
  const network = addr & mask6(PREFIX6);
  if (network !== addr) return { error: `"${s}" has host bits set; the prefix is ${formatIp6(network)}/${PREFIX6}` };
  const why = unusable6(network);
  if (why) return { error: `"${s}" is ${why}, not a unique local prefix (fc00::/7)` };
  return { network, prefix: PREFIX6, text: `${formatIp6(network)}/${PREFIX6}` };
}

/** The /64 an address lies in (a libvirt network names its gateway's address, not its prefix). */
export function prefixOf6(ip: bigint): bigint {
  return ip & mask6(PREFIX6);
}

export function contains6(c: Cidr6, ip: bigint): boolean {
  return (ip & mask6(c.prefix)) === c.network;
}

/** An address of the prefix that a host may use: not the subnet-router anycast (::0 of the prefix). */
export function isHost6(c: Cidr6, ip: bigint): boolean {
  return contains6(c, ip) && ip !== c.network;
}

/**
 * The IPv6 host number that mirrors an IPv4 one: host .10 of the IPv4 subnet is ::10 of the prefix (the decimal
 * digits read as hex, so the two addresses look alike), beyond 9999 the number itself.
 */
export function mirrorOffset(v4Offset: number): bigint {
  return v4Offset <= 9999 ? BigInt(`0x${v4Offset}`) : BigInt(v4Offset);
}

/** The address SLAAC forms from a MAC (modified EUI-64: the U/L bit flipped, ff:fe in the middle). */
export function eui64(c: Cidr6, mac: string): bigint {
  const b = mac.split(':').map((x) => Number.parseInt(x, 16));
  const id = [b[0]! ^ 0x02, b[1]!, b[2]!, 0xff, 0xfe, b[3]!, b[4]!, b[5]!];
  return c.network | id.reduce((n, x) => (n << 8n) | BigInt(x), 0n);
}

export function overlaps6(a: Cidr6, b: Cidr6): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.network & mask6(p)) === (b.network & mask6(p));
}
