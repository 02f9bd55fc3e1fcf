// The Provider port: brings a lab's machines up and down. One explicit registry of built-in providers.
import { UsageError } from '../errors.ts';
import type { Lab } from '../lab/model.ts';
import type { Emit } from '../report/events.ts';
import type { Home } from '../runner/home.ts';
import type { StateStore } from '../runner/state.ts';
import type { CommandClock, Executor } from '../transport/executor.ts';

export interface Problem {
  what: string;
  hint?: string;
}

export interface MachineHandle {
  name: string;
  role: 'hypervisor' | 'peer';
  exec: Executor;
  /** how a person reaches it */
  address: string;
  /** how guests on this hypervisor are accelerated: kvm only where /dev/kvm works inside the machine */
  guestVirt?: 'kvm' | 'qemu';
  /** the machine shares the control host's files (a namespace): packages are checked, never installed */
  sharedFilesystem?: boolean;
  /** host file with the machine's own console (VM machines) */
  consoleLog?: string;
  /** what the machine is, for the report: "namespace", "VM (TCG)", "VM (KVM)" */
  kind?: string;
  /** the machine is a VM (its commands, and its guests, answer slower than a namespace's) */
  vm?: boolean;
}

/** Read access to an underlay network's own DHCP server (the LAN of the original lab). */
export interface UnderlayHandle {
  name: string;
  /** dnsmasq lease file content */
  leases(): Promise<string>;
  exec: Executor;
  /** false when the network's own DHCP server is no longer running */
  dhcpAlive(): boolean;
  /** switch ports: which machine NIC is plugged into which port */
  ports: { machine: string; nic: string; port: string }[];
}

export interface ProviderContext {
  home: Home;
  store: StateStore;
  emit: Emit;
  signal: AbortSignal;
  clock?: CommandClock;
}

export interface Provider {
  readonly name: string;
  /** Every problem at once; nothing is created. */
  preflight(lab: Lab, home: Home): Promise<Problem[]>;
  /** Creates machines and underlays, recording each resource in the state before creating it. */
  up(lab: Lab, ctx: ProviderContext): Promise<void>;
  /** Handles to the machines and underlays of a live instance (after up, or later from the state file). */
  attach(store: StateStore, clock?: CommandClock): { machines: MachineHandle[]; underlays: UnderlayHandle[] };
  /** Removes everything the state lists, in reverse; "already gone" is success. */
  down(store: StateStore, emit: Emit, clock?: CommandClock): Promise<void>;
  /** What the state lists that still exists. */
  leaks(store: StateStore): Promise<string[]>;
  /** Machines of a live instance whose own process died (a VM's QEMU, a namespace's init), and why. */
  casualties?(store: StateStore): { machine: string; why: string }[];
  /** Host files worth keeping in the report (machine consoles), read before teardown, even when up failed. */
  logs?(store: StateStore): { name: string; path: string }[];
}

export interface ProviderOptions {
  /** ssh provider: the inventory file of existing hosts */
  inventory?: string;
  /** vm provider: the kernel hypervisor VMs boot unless machines.yml names one */
  kernel?: string;
}

export type ProviderFactory = (o: ProviderOptions) => Provider;

export class ProviderRegistry {
  private readonly factories = new Map<string, ProviderFactory>();
  register(name: string, f: ProviderFactory): void {
    if (this.factories.has(name)) throw new Error(`provider "${name}" is registered twice`);
    this.factories.set(name, f);
  }
  get(name: string, o: ProviderOptions = {}): Provider {
    const f = this.factories.get(name);
    if (!f)
      throw new UsageError(`unknown provider "${name}"`, `known providers: ${[...this.factories.keys()].join(', ')}`);
    return f(o);
  }
  names(): string[] {
    return [...this.factories.keys()];
  }
}
