// The resolved lab: every default applied, every name generated, every reference checked.
import { UsageError } from '../errors.ts';

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
  points: number;
  description?: string;
  hint?: string;
}

export type Endpoint = { type: 'machine'; name: string } | { type: 'guest'; name: string } | { type: 'ip'; ip: string };

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
  steps: StepBase[];
  assertions: AssertionBase[];
  teardown: StepBase[];
  /** parameter values this lab was rendered with */
  params: Record<string, string>;
  variant?: string;
  /** every variant the lab declares */
  variants: string[];
  exercise?: { goal: string; text?: string; from?: string };
}

/** --until and --skip name steps the lab has; otherwise a UsageError listing them (before anything happens). */
export function checkStepIds(lab: Lab, until: string | undefined, skip: string[]): void {
  const ids = lab.steps.map((s) => s.id);
  for (const id of [...(until ? [until] : []), ...skip]) {
    if (!ids.includes(id)) throw new UsageError(`lab ${lab.name} has no step "${id}"`, `its steps: ${ids.join(', ')}`);
  }
}

export function endpointName(e: Endpoint): string {
  return e.type === 'ip' ? e.ip : e.name;
}
