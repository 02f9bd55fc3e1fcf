// Facts about guests that several checks need: where a guest's lease lives, its address, its host-side device.
import { InternalError } from '../errors.ts';
import { consoleText, domIfaces, libvirtLeases } from '../hypervisor/ops.ts';
import { type Lease, parseDnsmasqLeases } from '../hypervisor/parse/leases.ts';
import { parseReadyLine } from '../hypervisor/parse/virsh.ts';
import { type Guest, type Lab, type Nic, qemuMacvtapName } from '../lab/model.ts';
import type { Evidence } from '../report/events.ts';
import { exec, type Session } from './session.ts';

export type LeaseSource =
  | { type: 'underlay'; network: string }
  | { type: 'libvirt'; machine: string; network: string }
  | { type: 'file'; machine: string; path: string };

/** macvtap modes put the guest on the lower device's underlay (its DHCP server); other networks are libvirt's. */
export function leaseSource(lab: Lab, g: Guest, network = g.network): LeaseSource {
  if (g.leases && network === g.network) return { type: 'file', machine: g.leases.on, path: g.leases.path };
  if (g.direct && network === g.network) {
    // a direct macvtap puts the guest on its lower device's underlay, like a macvtap network
    const nic = lab.machines.find((m) => m.name === g.on)?.nics.find((n) => n.name === g.direct!.dev);
    if (nic) return { type: 'underlay', network: nic.network };
  }
  const net = lab.libvirtNetworks.find((n) => n.on === g.on && n.name === network);
  if (net && ['bridge', 'vepa', 'private', 'passthrough'].includes(net.forward) && net.dev) {
    const nic = lab.machines.find((m) => m.name === g.on)?.nics.find((n) => n.name === net.dev);
    if (nic) return { type: 'underlay', network: nic.network };
  }
  return { type: 'libvirt', machine: g.on, network };
}

export function guestOf(lab: Lab, name: string): Guest {
  const g = lab.guests.find((x) => x.name === name);
  if (!g) throw new InternalError(`unknown guest ${name}`);
  return g;
}

/** The lease of a guest's NIC (its first NIC unless a network is named). */
export async function guestLease(
  s: Session,
  g: Guest,
  network = g.network,
): Promise<{ lease?: Lease; evidence: Evidence }> {
  const mac = g.nics.find((n) => n.network === network)?.mac ?? g.mac;
  if (g.staticIp && network === g.network) {
    // no DHCP: the address the lab gave it stands in for a lease
    return {
      lease: { mac, ip: g.staticIp.address.split('/')[0]! },
      evidence: {
        machine: g.on,
        argv: ['(static address on the kernel command line)'],
        exitCode: 0,
        stdout: g.staticIp.address,
      },
    };
  }
  const src = leaseSource(s.lab, g, network);
  if (src.type === 'underlay') {
    const u = s.underlays.get(src.network)!;
    const text = await u.leases();
    const lease = parseDnsmasqLeases(text).find((l) => l.mac === mac);
    return {
      lease,
      evidence: { machine: `network ${src.network} (dnsmasq)`, argv: ['cat', 'leases'], exitCode: 0, stdout: text },
    };
  }
  const x = exec(s, src.machine);
  if (src.type === 'file') {
    const r = await x.run(['cat', src.path], { check: false });
    return {
      lease: parseDnsmasqLeases(r.stdout).find((l) => l.mac === mac),
      evidence: { machine: src.machine, argv: ['cat', src.path], exitCode: r.exitCode, stdout: r.stdout },
    };
  }
  const { leases, stdout } = await libvirtLeases(x, src.network);
  return {
    lease: leases.find((l) => l.mac === mac),
    evidence: { machine: src.machine, argv: ['virsh', 'net-dhcp-leases', src.network], exitCode: 0, stdout },
  };
}

export async function guestReady(
  s: Session,
  g: Guest,
): Promise<{ ip: string; mac: string; hostname: string } | undefined> {
  // the first NIC's line: what the guest itself says about eth0
  const text = await consoleText(exec(s, g.on), g.name);
  return parseReadyLine(
    text
      .split('\n')
      .filter((l) => !/ iface=(?!eth0\b)/.test(l))
      .join('\n'),
  );
}

export async function guestDevice(s: Session, g: Guest): Promise<{ dev?: string; mac?: string; evidence: Evidence }> {
  const x = exec(s, g.on);
  if (g.qemu) {
    // no libvirt: the macvtap virtlab created for it
    const dev = qemuMacvtapName(g.name);
    const r = await x.run(['ip', '-br', 'link', 'show', 'dev', dev], { check: false });
    return {
      dev: r.exitCode === 0 ? dev : undefined,
      mac: r.stdout.split(/\s+/)[2],
      evidence: {
        machine: g.on,
        argv: ['ip', '-br', 'link', 'show', 'dev', dev],
        exitCode: r.exitCode,
        stdout: r.stdout,
      },
    };
  }
  const { ifaces, stdout } = await domIfaces(x, g.name);
  const i = ifaces.find((f) => f.mac === g.mac) ?? ifaces[0];
  return {
    dev: i?.iface,
    mac: i?.mac,
    evidence: { machine: g.on, argv: ['virsh', 'domiflist', g.name], exitCode: 0, stdout },
  };
}

/** The first NIC of a machine with a static address (the one pings and ARP checks use). */
export function machineNic(lab: Lab, machine: string): Nic | undefined {
  return lab.machines.find((m) => m.name === machine)?.nics.find((n) => n.address !== 'dhcp');
}

export function machineIp(lab: Lab, machine: string): string | undefined {
  return machineNic(lab, machine)?.address.split('/')[0];
}
