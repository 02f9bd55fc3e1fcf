// Facts about guests that several checks need: where a guest's lease lives, its address, its host-side device.
import { InternalError } from '../errors.ts';
import { consoleText, domIfaces, libvirtLeases } from '../hypervisor/ops.ts';
import { type Lease, parseDnsmasqLeases } from '../hypervisor/parse/leases.ts';
import { parseReadyLine } from '../hypervisor/parse/virsh.ts';
import { leaseSource, underlayOf } from '../lab/lease-source.ts';
import { type Guest, hasStaticAddress, type Lab, type Nic, qemuMacvtapName } from '../lab/model.ts';
import type { Evidence } from '../report/events.ts';
import { exec, type Session } from './session.ts';

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
): Promise<{ lease?: Lease; evidence: Evidence; via?: string }> {
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
  let src = leaseSource(s.lab, g, network);
  let via: string | undefined;
  if (src.type === 'ports') {
    const { machine, dev } = src;
    const ports = await bridgePorts(s, machine, dev);
    const u = ports.map((p) => underlayOf(s.lab, machine, p)).find((x) => x !== undefined);
    if (!u) {
      const why = `${dev} on ${machine} has ${ports.length ? `ports ${ports.join(', ')}, none on an underlay network` : 'no ports'}`;
      return {
        evidence: {
          machine,
          argv: ['ip', '-j', 'link', 'show', 'master', dev],
          exitCode: 1,
          stdout: why,
        },
      };
    }
    src = { type: 'underlay', network: u };
    via = dev;
  }
  if (src.type === 'underlay') {
    const u = s.underlays.get(src.network)!;
    const text = await u.leases();
    const lease = parseDnsmasqLeases(text).find((l) => l.mac === mac);
    return {
      lease,
      ...(via ? { via: `the DHCP server of ${src.network} (behind ${via})` } : {}),
      evidence: { machine: `network ${src.network} (dnsmasq)`, argv: ['cat', 'leases'], exitCode: 0, stdout: text },
    };
  }
  if (src.type === 'none') {
    return { evidence: { machine: g.on, argv: ['(no DHCP server known for this NIC)'], exitCode: 1, stdout: src.why } };
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

/** The ports of a bridge (or members of a bond) on a machine, as the machine says now. */
async function bridgePorts(s: Session, machine: string, dev: string): Promise<string[]> {
  const r = await exec(s, machine).run(['ip', '-j', 'link', 'show', 'master', dev], { check: false });
  if (r.exitCode !== 0) return [];
  try {
    return (JSON.parse(r.stdout) as { ifname?: string }[]).flatMap((l) => (l.ifname ? [l.ifname] : []));
  } catch {
    return [];
  }
}

export async function guestReady(
  s: Session,
  g: Guest,
): Promise<{ ip: string; mac: string; hostname: string } | undefined> {
  return firstNicReady(await consoleText(exec(s, g.on), g.name));
}

/** The ready line of a guest's first NIC in its console text: what the guest itself says about eth0. */
export function firstNicReady(consoleText: string): { ip: string; mac: string; hostname: string } | undefined {
  return parseReadyLine(
    consoleText
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
  return lab.machines.find((m) => m.name === machine)?.nics.find(hasStaticAddress);
}

/** A machine's IPv6 address: its first NIC's on a dual-stack network. */
export function machineIp6(lab: Lab, machine: string): string | undefined {
  return lab.machines
    .find((m) => m.name === machine)
    ?.nics.find((n) => n.address6)
    ?.address6?.split('/')[0];
}

/** A machine's address: its first NIC's with a static address, else the first device's a step gave one. */
export function machineIp(lab: Lab, machine: string): string | undefined {
  const dev = lab.devices.find((d) => d.on === machine && hasStaticAddress(d));
  return (machineNic(lab, machine)?.address ?? dev?.address)?.split('/')[0];
}
