// Parsers for virsh and iproute2 output (machine-readable forms where the tool offers them).

import { formatIp6 } from '../../lab/ipv6.ts';

export interface DomIface {
  iface: string; // host-side device (macvtap0, vnet0)
  type: string; // direct | network | bridge
  source: string;
  model: string;
  mac: string;
}

/**
 * `virsh domiflist DOM`:
 *  Interface   Type      Source        Model    MAC
 *  -------------------------------------------------------------
 *  macvtap0    network   macvtap-net   virtio   52:54:00:ff:55:d1
 */
export function parseDomiflist(text: string): DomIface[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 5 && /^[0-9a-f:]{17}$/i.test(f[4]!))
    .map((f) => ({ iface: f[0]!, type: f[1]!, source: f[2]!, model: f[3]!, mac: f[4]!.toLowerCase() }));
}

export interface LinkInfo {
  ifname: string;
  ifindex: number;
  flags: string[];
  address?: string;
  operstate?: string;
  promiscuity?: number;
  ipv4: string[];
  /** global and link-local IPv6 addresses, a.b::c/len */
  ipv6: string[];
  kind?: string;
}

/** iproute2's JSON for a link, as far as virtlab reads it. */
interface IpLinkJson {
  ifname: string;
  ifindex: number;
  flags?: string[];
  address?: string;
  operstate?: string;
  promiscuity?: number;
  linkinfo?: { info_kind?: string };
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/** `ip -j -d addr show dev X` (one object per link). */
export function parseIpAddrJson(text: string): LinkInfo[] {
  const arr = JSON.parse(text || '[]') as IpLinkJson[];
  return arr.map((l) => ({
    ifname: l.ifname,
    ifindex: l.ifindex,
    flags: l.flags ?? [],
    address: l.address?.toLowerCase(),
    operstate: l.operstate,
    promiscuity: l.promiscuity,
    kind: l.linkinfo?.info_kind,
    ipv4: (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
    ipv6: (l.addr_info ?? []).filter((a) => a.family === 'inet6').map((a) => `${a.local}/${a.prefixlen}`),
  }));
}

export interface Neighbour {
  dst: string;
  lladdr?: string;
  state: string[];
  dev: string;
}

/** `ip -j neigh show` */
export function parseNeighJson(text: string): Neighbour[] {
  const arr = JSON.parse(text || '[]') as { dst: string; lladdr?: string; state?: string[]; dev: string }[];
  return arr.map((n) => ({
    dst: n.dst,
    lladdr: n.lladdr?.toLowerCase(),
    state: n.state ?? [],
    dev: n.dev,
  }));
}

/** The guest's ready line on its serial console: `virtlab-guest ready hostname=H ip=I mac=M [iface=ethN]`; the
 * last one for the given MAC (or the last one of all). */
export function parseReadyLine(
  consoleText: string,
  mac?: string,
): { hostname: string; ip: string; mac: string; iface?: string } | undefined {
  const found = consoleText
    .split(/\r?\n/)
    .map((l) =>
      /virtlab-guest ready hostname=(\S+) ip=(\d+\.\d+\.\d+\.\d+) mac=([0-9a-f:]{17})(?: iface=(\S+))?/i.exec(l),
    )
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => ({ hostname: m[1]!, ip: m[2]!, mac: m[3]!.toLowerCase(), ...(m[4] ? { iface: m[4] } : {}) }))
    .filter((r) => !mac || r.mac === mac.toLowerCase());
  return found[found.length - 1];
}

/**
 * The IPv6 addresses the virtlab guest announced on its console once SLAAC formed them and duplicate detection
 * passed ("virtlab-guest ipv6 ip6=<32 hex digits> iface=eth0"), in RFC 5952 form.
 */
export function parseIpv6Lines(consoleText: string): string[] {
  return [...consoleText.matchAll(/virtlab-guest ipv6 ip6=([0-9a-f]{32})/gi)].map((m) =>
    formatIp6(BigInt(`0x${m[1]}`)),
  );
}

/** The virtlab test guest's first console line: a console without it is another image's (it reports no IPv6 line). */
export const VIRTLAB_GUEST_BOOTED = 'virtlab-guest booted';

/** CirrOS prints this at the end of its boot; the virtlab guest prints it too. */
export const CIRROS_READY = '=== network info ===';

/** How many times the guest finished booting, by its console. */
export function bootCount(consoleText: string): number {
  return consoleText.split(CIRROS_READY).length - 1;
}

/** /proc/net/arp (the guest has no `ip -j`): IP, HW type, Flags (0x2 = complete), HW address, Mask, Device. */
export function parseProcArp(text: string): Neighbour[] {
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 6)
    .map((f) => ({
      dst: f[0]!,
      lladdr: f[2] === '0x0' ? undefined : f[3]!.toLowerCase(),
      state: f[2] === '0x0' ? ['INCOMPLETE'] : [],
      dev: f[5]!,
    }));
}
