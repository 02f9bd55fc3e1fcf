// Where a guest's NIC gets its addresses, read from the lab alone: the DHCP server that leases its IPv4 address
// (an underlay's, a libvirt network's, a lab's own), and the IPv6 address SLAAC forms on its underlay's prefix.
import { type Cidr6, eui64, formatIp6, parseCidr6 } from './ipv6.ts';
import type { Guest, Lab } from './model.ts';

export type LeaseSource =
  | { type: 'underlay'; network: string }
  | { type: 'libvirt'; machine: string; network: string }
  | { type: 'file'; machine: string; path: string }
  /** a bridge a command step built: its ports are looked up on the machine when the lease is */
  | { type: 'ports'; machine: string; dev: string }
  /** no DHCP server the lab knows serves it (a tagged VLAN, a bridge on no underlay) */
  | { type: 'none'; why: string };

/**
 * The underlay network an interface of a machine reaches untagged: a NIC's own, or through the ports of a bridge
 * or bond or the lower device of a macvlan. A VLAN's traffic is tagged: the underlay's DHCP server never sees it.
 */
export function underlayOf(lab: Lab, machine: string, ifname: string, depth = 0): string | undefined {
  const nic = lab.machines.find((m) => m.name === machine)?.nics.find((n) => n.name === ifname);
  if (nic) return nic.network;
  const d = lab.devices.find((x) => x.on === machine && x.name === ifname);
  if (!d || d.type === 'vlan' || depth > 8) return undefined;
  for (const over of d.over) {
    const u = underlayOf(lab, machine, over, depth + 1);
    if (u) return u;
  }
  return undefined;
}

/**
 * Where a guest's NIC gets its lease: macvtap modes and host bridges put it on an underlay (its DHCP server), a
 * libvirt NAT or isolated network has its own, and a lab's own DHCP server keeps a lease file.
 */
export function leaseSource(lab: Lab, g: Guest, network = g.network): LeaseSource {
  if (g.leases && network === g.network) return { type: 'file', machine: g.leases.on, path: g.leases.path };
  const onUnderlay = (ifname: string): LeaseSource => {
    const known =
      lab.machines.some((m) => m.name === g.on && m.nics.some((n) => n.name === ifname)) ||
      lab.devices.some((d) => d.on === g.on && d.name === ifname);
    if (!known) return { type: 'ports', machine: g.on, dev: ifname };
    const u = underlayOf(lab, g.on, ifname);
    return u
      ? { type: 'underlay', network: u }
      : { type: 'none', why: `${ifname} of ${g.on} reaches no underlay network untagged` };
  };
  // a direct macvtap or a bridge puts the guest on its lower device's underlay, like a macvtap network
  if (g.direct && network === g.network) return onUnderlay(g.direct.dev);
  if (g.bridge && network === g.network) return onUnderlay(g.bridge);
  const net = lab.libvirtNetworks.find((n) => n.on === g.on && n.name === network);
  if (net?.vlan !== undefined)
    return {
      type: 'none',
      why: `network ${network} tags its guests' frames (VLAN ${net.vlan}): no underlay DHCP server sees them`,
    };
  if (net && ['bridge', 'vepa', 'private', 'passthrough'].includes(net.forward) && (net.dev ?? net.bridge)) {
    return onUnderlay((net.dev ?? net.bridge)!);
  }
  return { type: 'libvirt', machine: g.on, network };
}

/**
 * A guest's IPv6 address: the one SLAAC forms from its MAC on the prefix its underlay network announces (the
 * guest's kernel does it on its own; a ping to it says whether it did).
 */
export function guestIp6(lab: Lab, g: Guest): { ip?: string; why?: string } {
  const src = leaseSource(lab, g);
  const net =
    src.type === 'underlay'
      ? lab.networks.find((n) => n.name === src.network)
      : src.type === 'libvirt'
        ? lab.libvirtNetworks.find((n) => n.on === src.machine && n.name === src.network)
        : undefined;
  if (!net?.v6) {
    const on = src.type === 'underlay' ? `network ${src.network}` : `its network ${g.network}`;
    return {
      why: `guest ${g.name}: ${on} announces no IPv6 prefix (subnet6 on an underlay network, <ip family='ipv6'> in a libvirt one)`,
    };
  }
  const c = parseCidr6(net.v6.subnet) as Cidr6;
  return { ip: formatIp6(eui64(c, g.mac)) };
}
