// IPv4 and CIDR arithmetic: small enough that a dependency would not pay for itself.

export function parseIp(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255) || m.slice(1).some((p) => p.length > 1 && p.startsWith('0'))) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Cidr {
  network: number;
  prefix: number;
  text: string;
}

export function parseCidr(s: string): Cidr | { error: string } {
  const [ip, len] = s.split('/');
  const addr = parseIp(ip ?? '');
  const prefix = Number(len);
  if (addr === undefined) return { error: `"${s}" has an invalid address part` };
  if (!Number.isInteger(prefix) || prefix < 8 || prefix > 30)
    return { error: `"${s}": the prefix length must be between 8 and 30` };
  const network = (addr & mask(prefix)) >>> 0;
  if (network !== addr) return { error: `"${s}" has host bits set; the network is ${formatIp(network)}/${prefix}` };
  return { network, prefix, text: s };
}

export function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function contains(c: Cidr, ip: number): boolean {
  return (ip & mask(c.prefix)) >>> 0 === c.network;
}

export function broadcast(c: Cidr): number {
  return (c.network | (~mask(c.prefix) >>> 0)) >>> 0;
}

/** True for an address usable by a host (not the network or broadcast address). */
export function isHost(c: Cidr, ip: number): boolean {
  return contains(c, ip) && ip !== c.network && ip !== broadcast(c);
}
