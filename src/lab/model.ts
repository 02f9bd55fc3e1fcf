// The resolved lab: every default applied, every name generated, every reference checked.

export type Role = 'hypervisor' | 'peer';
export type Expect = 'pass' | 'fail';

export interface Underlay {
  name: string;
  subnet: string; // 192.168.100.0/24
  prefix: number;
  gateway: string;
  dhcp?: { start: string; end: string };
  macFiltering: boolean;
}

export interface Nic {
  name: string; // eth1
  network: string;
  /** a.b.c.d/prefix, or 'dhcp'. */
  address: string;
  mac: string;
}

export interface Machine {
  name: string;
  role: Role;
  ram: number; // MiB
  vcpu: number;
  nested: boolean;
  provision?: string; // playbook file (absolute)
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
  /** <interface type='direct'> on a hypervisor NIC (or, launched by bare QEMU, a macvtap virtlab creates) */
  direct?: { dev: string; mode: string };
  /** launched by bare QEMU instead of libvirt */
  qemu?: boolean;
}

/** The macvtap device virtlab creates for a guest launched by bare QEMU. */
export const qemuMacvtapName = (guest: string) => `mvt-${guest}`.slice(0, 15);

interface StepBase {
  id: string;
  description?: string;
  hint?: string;
}

export type Step =
  | (StepBase & { kind: 'upload'; to: string; files: { src: string; rel: string }[]; images: ImageRef[] })
  | (StepBase & { kind: 'net-define'; on: string; xml: string; rel: string; network: string })
  | (StepBase & { kind: 'net-start'; on: string; network: string })
  | (StepBase & { kind: 'promisc'; on: string; nic: string; state: 'on' | 'off' })
  | (StepBase & { kind: 'guest'; on: string; guest: Guest })
  | (StepBase & {
      kind: 'command';
      on: string;
      argv?: string[];
      script?: { src: string; rel: string };
      guest?: boolean;
    })
  | (StepBase & { kind: 'hairpin'; network: string; machine: string; nic: string; state: 'on' | 'off' })
  | (StepBase & { kind: 'attach-interface'; on: string; guest: string; network: string; mac: string })
  | (StepBase & { kind: 'check'; assertions: string[] });

export type StepKind = Step['kind'];

interface AssertionBase {
  id: string;
  expect: Expect;
  points: number;
  description?: string;
  hint?: string;
}

export type Endpoint = { type: 'machine'; name: string } | { type: 'guest'; name: string } | { type: 'ip'; ip: string };

export type Assertion =
  | (AssertionBase & { kind: 'lease'; guest: string; network?: string })
  | (AssertionBase & { kind: 'seen-source'; from: string; to: string; source: Endpoint })
  | (AssertionBase & { kind: 'ping'; from: string; to: Endpoint; count: number })
  | (AssertionBase & { kind: 'arp'; on: string; target: Endpoint; answeredBy?: string })
  | (AssertionBase & { kind: 'guest-ip'; guest: string; nic: string })
  | (AssertionBase & { kind: 'reachability'; cells: { from: string; to: Endpoint; expect: Expect }[] })
  | (AssertionBase & { kind: 'mac-match'; guest: string })
  | (AssertionBase & {
      kind: 'link';
      on: string;
      nic?: string;
      guestTap?: string;
      promisc?: boolean;
      up?: boolean;
      ipv4?: boolean;
    });

export type AssertionKind = Assertion['kind'];

export interface Lab {
  name: string;
  file: string;
  dir: string;
  description: string;
  teaches?: string;
  networks: Underlay[];
  machines: Machine[];
  libvirtNetworks: LibvirtNetwork[];
  guests: Guest[];
  steps: Step[];
  assertions: Assertion[];
  teardown: Step[];
  /** parameter values this lab was rendered with */
  params: Record<string, string>;
  variant?: string;
  /** every variant the lab declares */
  variants: string[];
  exercise?: { goal: string; text?: string; from?: string };
}

export function endpointName(e: Endpoint): string {
  return e.type === 'ip' ? e.ip : e.name;
}

/** Every machine or guest an assertion involves. */
export function assertionNodes(a: Assertion): string[] {
  const ep = (e: Endpoint) => (e.type === 'ip' ? [] : [e.name]);
  switch (a.kind) {
    case 'lease':
    case 'mac-match':
    case 'guest-ip':
      return [a.guest];
    case 'ping':
      return [a.from, ...ep(a.to)];
    case 'arp':
      return [a.on, ...ep(a.target)];
    case 'link':
      return [a.on, ...(a.guestTap ? [a.guestTap] : [])];
    case 'reachability':
      return a.cells.flatMap((c) => [c.from, ...ep(c.to)]);
    case 'seen-source':
      return [a.from, a.to, ...ep(a.source)];
  }
}
