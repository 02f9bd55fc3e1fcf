// Resolving the lab's topology: underlay networks (subnet, gateway, DHCP range) and machines with their NICs
// (addresses from the lab, machines.yml or allocated), every problem reported at its position.
import type { Catalogue } from './catalogue.ts';
import { broadcast, type Cidr, contains, formatIp, isHost, parseCidr, parseIp } from './ipv4.ts';
import { type Cidr6, formatIp6, isHost6, mirrorOffset, overlaps6, parseCidr6, parseIp6 } from './ipv6.ts';
import { stableMac } from './mac.ts';
import type { Machine, Nic, Path, Underlay } from './model.ts';
import { cidrText, macProblem, overlaps, RESERVED_NICS, UNUSABLE } from './reserved.ts';
import { didYouMean } from './suggest.ts';

export type Report = (path: Path, message: string, hint?: string, key?: boolean) => void;

interface RawUnderlay {
  subnet: string;
  gateway?: string;
  dhcp?: boolean | { start: string; end: string };
  'mac-filtering'?: boolean;
  subnet6?: string;
  gateway6?: string;
}

interface RawNic {
  network: string;
  ip?: string;
  ip6?: string;
  mac?: string;
}

export interface RawMachine {
  role: 'hypervisor' | 'peer';
  ram?: number;
  vcpu?: number;
  provider?: 'netns' | 'vm';
  kernel?: string;
  nics?: Record<string, RawNic>;
}

/** Every MAC of the lab (NICs, guests' NICs), so that none is used twice or is not a unicast address. */
export class MacRegistry {
  private readonly owners = new Map<string, string>();
  constructor(private readonly err: Report) {}
  claim(path: Path, mac: string, owner: string): void {
    const problem = macProblem(mac);
    if (problem)
      this.err(path, `${owner}: ${problem}`, 'leave "mac" out for a stable one, or pick another 52:54:00:xx:xx:xx');
    const key = mac.toLowerCase();
    const prev = this.owners.get(key);
    if (prev) this.err(path, `${owner}: MAC ${mac} is already used by ${prev}`, 'every NIC needs its own MAC');
    else this.owners.set(key, owner);
  }
}

export interface Topology {
  networks: Underlay[];
  cidrs: Map<string, Cidr>;
  /** the IPv6 prefixes of dual-stack networks */
  cidrs6: Map<string, Cidr6>;
  machines: Machine[];
}

export function resolveNetworks(raw: Record<string, RawUnderlay>, err: Report): Omit<Topology, 'machines'> {
  const networks: Underlay[] = [];
  const cidrs = new Map<string, Cidr>();
  const cidrs6 = new Map<string, Cidr6>();
  for (const [n, spec] of Object.entries(raw)) {
    const c = parseCidr(spec.subnet);
    if ('error' in c) {
      err(['networks', n, 'subnet'], `network "${n}": ${c.error}`);
      continue;
    }
    const bad = UNUSABLE.find((u) => overlaps(u.cidr, c));
    if (bad) {
      err(
        ['networks', n, 'subnet'],
        `network "${n}": ${spec.subnet} overlaps ${bad.why}`,
        'use a private range such as 192.168.x.0/24 or 10.x.y.0/24',
      );
      continue;
    }
    cidrs.set(n, c);
    const gw = spec.gateway ?? formatIp(c.network + 1);
    if (spec.gateway !== undefined && !isHost(c, parseIp(spec.gateway)!)) {
      err(
        ['networks', n, 'gateway'],
        `network "${n}": gateway ${spec.gateway} is not a host address in ${spec.subnet}`,
      );
    }
    const dhcp = dhcpRange(n, spec, c, err);
    const g = parseIp(gw);
    if (dhcp && g !== undefined && g >= parseIp(dhcp.start)! && g <= parseIp(dhcp.end)!) {
      const at = spec.gateway !== undefined ? ['networks', n, 'gateway'] : ['networks', n, 'dhcp'];
      err(
        at,
        `network "${n}": the gateway ${gw} lies in the DHCP range ${dhcp.start}-${dhcp.end}`,
        'the DHCP server would hand its own address to a guest: move one of them',
      );
    }
    const v6 = resolveV6(n, spec, cidrs6, err);
    networks.push({
      name: n,
      subnet: spec.subnet,
      prefix: c.prefix,
      gateway: gw,
      dhcp,
      macFiltering: spec['mac-filtering'] ?? false,
      ...(v6 ? { v6 } : {}),
    });
  }
  return { networks, cidrs, cidrs6 };
}

/** A dual-stack network's IPv6 side: a unique local /64, its gateway (default ::1), announced for SLAAC. */
function resolveV6(n: string, spec: RawUnderlay, cidrs6: Map<string, Cidr6>, err: Report): Underlay['v6'] {
  if (spec.subnet6 === undefined) {
    if (spec.gateway6 !== undefined) err(['networks', n, 'gateway6'], `network "${n}": gateway6 needs subnet6`);
    return undefined;
  }
  const at = ['networks', n, 'subnet6'];
  const c = parseCidr6(spec.subnet6);
  if ('error' in c) {
    err(at, `network "${n}": ${c.error}`, 'use a unique local /64 such as fd00:100::/64');
    return undefined;
  }
  const clash = [...cidrs6].find(([, o]) => overlaps6(o, c));
  if (clash) {
    err(at, `network "${n}": ${c.text} is also the prefix of network "${clash[0]}"`, 'give each network its own /64');
    return undefined;
  }
  cidrs6.set(n, c);
  let gw = c.network + 1n;
  if (spec.gateway6 !== undefined) {
    const g = parseIp6(spec.gateway6);
    if (g === undefined || !isHost6(c, g)) {
      err(['networks', n, 'gateway6'], `network "${n}": gateway6 ${spec.gateway6} is not a host address in ${c.text}`);
    } else gw = g;
  }
  return { subnet: c.text, prefix: c.prefix, gateway: formatIp6(gw) };
}

function dhcpRange(n: string, spec: RawUnderlay, c: Cidr, err: Report): Underlay['dhcp'] {
  if (spec.dhcp === true || spec.dhcp === undefined) {
    const size = broadcast(c) - c.network;
    return { start: formatIp(c.network + Math.floor(size / 2)), end: formatIp(broadcast(c) - 1) };
  }
  if (typeof spec.dhcp !== 'object') return undefined;
  const s = parseIp(spec.dhcp.start)!;
  const e = parseIp(spec.dhcp.end)!;
  const at = ['networks', n, 'dhcp'];
  if (!isHost(c, s))
    err([...at, 'start'], `network "${n}": DHCP range start ${spec.dhcp.start} is outside ${spec.subnet}`);
  if (!isHost(c, e)) err([...at, 'end'], `network "${n}": DHCP range end ${spec.dhcp.end} is outside ${spec.subnet}`);
  if (isHost(c, s) && isHost(c, e) && s > e) {
    err(at, `network "${n}": DHCP range start ${spec.dhcp.start} is after its end ${spec.dhcp.end}`);
  }
  return { start: spec.dhcp.start, end: spec.dhcp.end };
}

export interface MachineInput {
  lab: string;
  raw: Record<string, RawMachine>;
  catalogue: Catalogue;
  networks: Omit<Topology, 'machines'>;
  /** every network name the lab declares, valid or not (a NIC on an invalid one is not reported twice) */
  declared: string[];
  macs: MacRegistry;
  /** a playbook named by machines.yml, or undefined (reported) when it is missing */
  playbook: (machine: string) => string | undefined;
  err: Report;
}

export function resolveMachines(i: MachineInput): Machine[] {
  const machines: Machine[] = [];
  const usedIps = new Map<string, Path>();
  for (const net of i.networks.networks) {
    usedIps.set(net.gateway, ['networks', net.name, 'gateway']);
    if (net.v6) usedIps.set(net.v6.gateway, ['networks', net.name, 'gateway6']);
  }
  const catNames = [...i.catalogue.machines.keys()];
  for (const [mName, spec] of Object.entries(i.raw)) {
    const cat = i.catalogue.machines.get(mName);
    if (!cat) {
      const guess = didYouMean(mName, catNames);
      const hint = `machines.yml defines: ${catNames.join(', ') || '(none)'}`;
      i.err(['machines', mName], `unknown machine "${mName}"${guess ? `; did you mean "${guess}"?` : ''}`, hint, true);
      continue;
    }
    const nics = Object.entries(spec.nics ?? {}).map(([nicName, nic], idx) =>
      resolveNic(i, mName, nicName, nic, idx === 0 ? cat.ipAddr : undefined, cat.path, usedIps),
    );
    checkNics(i, mName, nics);
    machines.push({
      name: mName,
      role: spec.role,
      ram: spec.ram ?? cat.ram,
      vcpu: spec.vcpu ?? cat.vcpu,
      nested: cat.nested,
      provision: i.playbook(mName),
      ...(cat.provisioner ? { provisioner: cat.provisioner } : {}),
      nics,
      ...machineChoice(spec, cat),
    });
  }
  return machines;
}

/** How the machine runs: the lab's own choice first, else machines.yml's (netns and vm; ssh is a whole-lab provider). */
function machineChoice(
  spec: RawMachine,
  cat: { provider?: string; kernel?: string },
): Pick<Machine, 'provider' | 'kernel'> {
  const provider = spec.provider ?? (cat.provider === 'vm' || cat.provider === 'netns' ? cat.provider : undefined);
  const kernel = spec.kernel ?? cat.kernel;
  return { ...(provider ? { provider } : {}), ...(kernel ? { kernel } : {}) };
}

/** A machine's NICs: no reserved names, and no two of them on networks that share addresses. */
function checkNics(i: MachineInput, mName: string, nics: Nic[]): void {
  nics.forEach((nic, j) => {
    const at: Path = ['machines', mName, 'nics', nic.name];
    const reserved = RESERVED_NICS[nic.name];
    if (reserved) i.err(at, `${mName}: "${nic.name}" is ${reserved}`, 'name lab NICs eth1, eth2, ...', true);
    i.macs.claim(i.raw[mName]!.nics?.[nic.name]?.mac ? [...at, 'mac'] : at, nic.mac, `${mName} ${nic.name}`);
    const c = i.networks.cidrs.get(nic.network);
    const other = nics
      .slice(0, j)
      .find(
        (x) =>
          x.network !== nic.network &&
          c &&
          i.networks.cidrs.get(x.network) &&
          overlaps(c, i.networks.cidrs.get(x.network)!),
      );
    if (other && c) {
      const oc = i.networks.cidrs.get(other.network)!;
      i.err(
        [...at, 'network'],
        `${mName}: ${nic.name} on "${nic.network}" (${cidrText(c)}) overlaps ${other.name} on "${other.network}" (${cidrText(oc)})`,
        'a machine cannot route two networks that share addresses: give them different subnets',
      );
    }
  });
}

/** A NIC's address: `ip:` in the lab, else machines.yml's ip_addr (first NIC), else allocated; or 'dhcp' or 'none'. */
function resolveNic(
  i: MachineInput,
  mName: string,
  nicName: string,
  nic: RawNic,
  catIp: string | undefined,
  catPath: Path,
  usedIps: Map<string, Path>,
): Nic {
  const at: Path = ['machines', mName, 'nics', nicName];
  const mac = nic.mac ?? stableMac(i.lab, `${mName}/${nicName}`);
  // a wrong NIC is kept as a placeholder, so later references to it do not cascade into more errors
  const placeholder: Nic = { name: nicName, network: nic.network, address: 'dhcp', mac };
  const net = i.networks.networks.find((x) => x.name === nic.network);
  if (!net) {
    const known = i.declared;
    const guess = didYouMean(nic.network, known);
    const hint = `networks defined in this lab: ${known.join(', ') || '(none)'}`;
    if (!known.includes(nic.network)) {
      i.err([...at, 'network'], `unknown network "${nic.network}"${guess ? `; did you mean "${guess}"?` : ''}`, hint);
    }
    return placeholder;
  }
  const c = i.networks.cidrs.get(net.name)!;
  let ip = nic.ip;
  let ipPath: Path = [...at, 'ip'];
  if (ip === undefined && catIp && contains(c, parseIp(catIp)!)) {
    ip = catIp;
    ipPath = [...catPath];
  }
  const c6 = i.networks.cidrs6.get(net.name);
  if (nic.ip6 !== undefined && !c6) {
    i.err([...at, 'ip6'], `${mName} ${nicName}: network "${net.name}" has no IPv6 (subnet6), so ip6 cannot be used`);
    return placeholder;
  }
  if (ip === 'none' && nic.ip6 !== undefined)
    i.err([...at, 'ip6'], `${mName} ${nicName}: a NIC with ip: none carries no address, IPv6 neither`);
  if (ip === 'dhcp') return withV6(i, mName, nicName, placeholder, nic.ip6, undefined, usedIps);
  if (ip === 'none') return { ...placeholder, address: 'none' };
  ip ??= allocate(c, net, usedIps);
  const n = parseIp(ip);
  if (n === undefined) {
    i.err(ipPath, `"${ip}" is not a valid IPv4 address`);
    return placeholder;
  }
  if (!isHost(c, n)) {
    i.err(ipPath, `${mName} ${nicName}: address ${ip} is not a host address in ${net.subnet} (network "${net.name}")`);
    return placeholder;
  }
  if (net.dhcp && n >= parseIp(net.dhcp.start)! && n <= parseIp(net.dhcp.end)!) {
    const range = `${net.dhcp.start}-${net.dhcp.end}`;
    i.err(
      ipPath,
      `${mName} ${nicName}: address ${ip} lies in the DHCP range of "${net.name}" (${range})`,
      'pick an address outside the range',
    );
  }
  const clash = usedIps.get(ip);
  if (clash) i.err(ipPath, `${mName} ${nicName}: address ${ip} is already used (${clash.join('.')})`);
  usedIps.set(ip, at);
  const nicV4 = { name: nicName, network: net.name, address: `${ip}/${c.prefix}`, mac };
  return withV6(i, mName, nicName, nicV4, nic.ip6, n - c.network, usedIps);
}

/**
 * On a dual-stack network a NIC with an address gets an IPv6 one too: `ip6:` in the lab, else the one that mirrors
 * its IPv4 host number (.10 is ::10). A NIC that asks DHCP gets one only when the lab names it.
 */
function withV6(
  i: MachineInput,
  mName: string,
  nicName: string,
  nic: Nic,
  ip6: string | undefined,
  v4Offset: number | undefined,
  used: Map<string, Path>,
): Nic {
  const c6 = i.networks.cidrs6.get(nic.network);
  if (!c6 || (ip6 === undefined && v4Offset === undefined)) return nic;
  const at: Path = ['machines', mName, 'nics', nicName, 'ip6'];
  const n = ip6 === undefined ? c6.network + mirrorOffset(v4Offset!) : parseIp6(ip6);
  if (n === undefined) {
    i.err(at, `${mName} ${nicName}: "${ip6}" is not a valid IPv6 address`);
    return nic;
  }
  if (!isHost6(c6, n)) {
    i.err(at, `${mName} ${nicName}: address ${ip6} is not a host address in ${c6.text} (network "${nic.network}")`);
    return nic;
  }
  const text = formatIp6(n);
  const clash = used.get(text);
  if (clash) i.err(at, `${mName} ${nicName}: address ${text} is already used (${clash.join('.')})`);
  used.set(text, at);
  return { ...nic, address6: `${text}/${c6.prefix}` };
}

function allocate(c: Cidr, net: Underlay, used: Map<string, Path>): string {
  const lo = net.dhcp ? parseIp(net.dhcp.start)! : Number.POSITIVE_INFINITY;
  const hi = net.dhcp ? parseIp(net.dhcp.end)! : Number.NEGATIVE_INFINITY;
  for (let n = c.network + 10; n < broadcast(c); n++) {
    if (n >= lo && n <= hi) continue;
    if (!used.has(formatIp(n))) return formatIp(n);
  }
  return formatIp(c.network + 2);
}
