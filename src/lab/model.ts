// The resolved lab: every default applied, every name generated, every reference checked.
import { UsageError } from '../errors.ts';

export type Role = 'hypervisor' | 'peer';

/** A break-fix fault of an exercise (src/kinds/faults.ts has what each kind does). */
export type FaultKind =
  | 'promisc-off'
  | 'link-down'
  | 'network-stopped'
  | 'route-removed'
  | 'proxy-arp-off'
  | 'dhcp-dropped'
  | 'icmp-dropped'
  | 'guest-mac-changed'
  | 'macvtap-mode';
export interface Fault {
  kind: FaultKind;
  /** the machine it happens on (guest-mac-changed: the guest) */
  on: string;
  nic?: string;
  network?: string;
  to?: string;
  /** macvtap-mode: the guest whose macvtap changes mode, and the mode */
  guest?: string;
  mode?: string;
  /** guest-mac-changed: the MAC the guest takes (default 52:54:00:66:66:66) */
  mac?: string;
}
export type Expect = 'pass' | 'fail';

export interface Underlay {
  name: string;
  subnet: string; // 192.168.100.0/24
  prefix: number;
  gateway: string;
  dhcp?: { start: string; end: string };
  macFiltering: boolean;
  /** dual stack: the IPv6 /64, announced by router advertisements for SLAAC (gateway: the announcing router) */
  v6?: { subnet: string; prefix: number; gateway: string };
}

export interface Nic {
  name: string; // eth1
  network: string;
  /** a.b.c.d/prefix; 'dhcp' (the machine asks for one) or 'none' (a trunk or a bridge port carries no address) */
  address: string;
  /** on a dual-stack network: its IPv6 address (x:y::z/64) */
  address6?: string;
  mac: string;
}

/** Whether a NIC (or device) has an address the lab gave it. */
export const hasStaticAddress = (n: { address?: string }): boolean => !!n.address?.includes('/');

export interface Machine {
  name: string;
  role: Role;
  ram: number; // MiB
  vcpu: number;
  nested: boolean;
  provision?: string; // playbook file (absolute)
  /** who runs the playbook: virtlab's subset (default) or real ansible-playbook */
  provisioner?: 'builtin' | 'ansible';
  nics: Nic[];
  /** asked for by machines.yml: `vm` boots this machine as a QEMU VM whatever the provider (netns or vm) */
  provider?: 'netns' | 'vm';
  /** vm provider: the Debian kernel package (or its version) this machine boots */
  kernel?: string;
}

export interface ImageRef {
  name: string; // cirros
  version?: string;
  /** as written: cirros@0.3.2 */
  ref: string;
}

export interface LibvirtNetwork {
  name: string;
  on: string;
  xmlFile: string; // absolute path on the control host
  forward: string; // bridge | vepa | private | passthrough | nat | route | isolated
  dev?: string; // lower device for macvtap modes
  /** a host bridge the network attaches its guests to (a Linux or Open vSwitch bridge a step built) */
  bridge?: string;
  /** openvswitch for an Open vSwitch bridge */
  virtualport?: string;
  /** the VLAN tag its guests' ports get (Open vSwitch) */
  vlan?: number;
  /** its IPv6 /64 (<ip family='ipv6'>), announced by libvirt's dnsmasq for SLAAC */
  v6?: { subnet: string; gateway: string };
}

/** A network device a step builds on a machine (a Linux bridge, a VLAN, a bond...); usable wherever a NIC is. */
export interface Device {
  name: string;
  on: string;
  type: 'bridge' | 'vlan' | 'bond' | 'macvlan' | 'veth' | 'ovs-bridge';
  /** what it is built on: a bridge's or bond's ports, a VLAN's or macvlan's lower device, a veth's peer */
  over: string[];
  /** the address it carries (a.b.c.d/prefix), when the lab gives it one */
  address?: string;
  /** a VLAN's id */
  vlan?: number;
  /** the step that creates it */
  step: string;
}

export interface GuestNic {
  network: string;
  mac: string;
  /** the step that adds it (the guest step for the first NIC, attach-interface for later ones) */
  step: string;
}

export interface Guest {
  name: string;
  on: string;
  image: ImageRef;
  network: string;
  /** every NIC, the first one from the guest step */
  nics: GuestNic[];
  ram: number;
  vcpus: number;
  mac: string;
  wait: boolean;
  step: string;
  /** a routed tap (libvirt type='ethernet') instead of a libvirt network */
  tap?: string;
  /** lease file of a DHCP server the lab runs itself */
  leases?: { on: string; path: string };
  /** a static address on the kernel command line (no DHCP) */
  staticIp?: { address: string; gateway?: string };
  /** a host bridge the guest's NIC joins directly (virt-install --network bridge=...), no libvirt network */
  bridge?: string;
  /** <interface type='direct'> on a hypervisor NIC (or, launched by bare QEMU, a macvtap virtlab creates) */
  direct?: { dev: string; mode: string };
  /** launched by bare QEMU instead of libvirt */
  qemu?: boolean;
}

/** The macvtap device virtlab creates for a guest launched by bare QEMU. */
export const qemuMacvtapName = (guest: string) => `mvt-${guest}`.slice(0, 15);

/** Where a value sits in a lab file: keys and list indexes from the top. */
export type Path = ReadonlyArray<string | number>;

/** What every step has; each step kind (src/kinds/steps/) adds its own fields. */
export interface StepBase {
  id: string;
  kind: string;
  description?: string;
  hint?: string;
}

/** What every assertion has; each assertion kind (src/kinds/checks/) adds its own fields. */
export interface AssertionBase {
  id: string;
  kind: string;
  expect: Expect;
  /** with expect: fail, what the failure must say (a pattern): failing for another reason is a failure */
  because?: string;
  points: number;
  description?: string;
  hint?: string;
}

/**
 * What a check reaches: a machine (the address of its first NIC with a static address), a guest (its lease), an
 * address, or the address on one NIC or device of a machine (machine:device).
 */
export type Endpoint =
  | { type: 'machine'; name: string }
  | { type: 'guest'; name: string }
  | { type: 'ip'; ip: string }
  | { type: 'interface'; name: string; dev: string };

export interface Lab {
  name: string;
  file: string;
  dir: string;
  description: string;
  teaches?: string;
  networks: Underlay[];
  machines: Machine[];
  libvirtNetworks: LibvirtNetwork[];
  /** devices the steps build on machines */
  devices: Device[];
  guests: Guest[];
  steps: StepBase[];
  assertions: AssertionBase[];
  teardown: StepBase[];
  /** parameter values this lab was rendered with */
  params: Record<string, string>;
  variant?: string;
  /** every variant the lab declares */
  variants: string[];
  exercise?: {
    goal: string;
    text?: string;
    from?: string;
    faults?: Fault[];
    draw?: number;
    /** parameters whose value each student draws from a list */
    vary?: Record<string, string[]>;
    /** the exercise in stages: each starts at a step and is done when its checks pass */
    checkpoints?: { name: string; from: string; assertions: string[] }[];
  };
}

/** --until and --skip name steps the lab has; otherwise a UsageError listing them (before anything happens). */
export function checkStepIds(lab: Lab, until: string | undefined, skip: string[]): void {
  const ids = lab.steps.map((s) => s.id);
  for (const id of [...(until ? [until] : []), ...skip]) {
    if (!ids.includes(id)) throw new UsageError(`lab ${lab.name} has no step "${id}"`, `its steps: ${ids.join(', ')}`);
  }
}

/** The machine or guest an endpoint involves, if any. */
export function endpointNode(e: Endpoint): string[] {
  return e.type === 'ip' ? [] : [e.name];
}

export function endpointName(e: Endpoint): string {
  return e.type === 'ip' ? e.ip : e.type === 'interface' ? `${e.name}:${e.dev}` : e.name;
}
