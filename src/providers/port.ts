// The Provider port: what brings a lab's machines up and down. An implementation must guarantee:
// - nothing exists after preflight (it only looks);
// - every resource is recorded in the state file BEFORE it is created, so `down` finds it after any crash;
// - up() stops within about a second when ctx.signal aborts, and everything it started is recorded;
// - down() removes exactly what the state lists and carries this run's mark, newest first, "already gone" being
//   success; anything it cannot verify as its own is left alone and reported;
// - leaks() looks each recorded resource up again, independently of down().
import type { Home } from '../host/home.ts';
import type { MachineRecord, StateStore } from '../host/state.ts';
import type { Lab, Machine } from '../lab/model.ts';
import type { Emit } from '../report/events.ts';
import type { CommandClock } from '../transport/executor.ts';
import type { MachineHandle, UnderlayHandle } from '../transport/handles.ts';

export interface Problem {
  what: string;
  hint?: string;
}

export interface ProviderContext {
  home: Home;
  store: StateStore;
  emit: Emit;
  signal: AbortSignal;
  clock?: CommandClock;
}

export interface TeardownContext {
  emit: Emit;
  /** where the state and run folders live: only what is inside them is ever removed */
  home: Home;
  clock?: CommandClock;
}

/** How a person reaches a machine with plain ssh (virtlab ssh, ssh-config). */
export interface SshAccess {
  host: string;
  port: number;
  user: string;
  keyFile: string;
  /** an OpenSSH public key line, pinned ("ssh-ed25519 AAAA..."); undefined: ask */
  hostKey?: string;
  sudo?: boolean;
}

/** What `status` shows about a machine, beyond its name, role and address. */
export interface MachineDescription {
  /** "namespace", "VM (TCG)", "existing host" */
  kind: string;
  /** one line of details (kernel, console), or nothing */
  detail?: string;
  /** the same as data, for --json */
  data?: Record<string, unknown>;
}

export interface Provider {
  readonly name: string;
  /** Every problem at once; nothing is created. */
  preflight(lab: Lab, home: Home): Promise<Problem[]>;
  /** Creates machines and underlays, recording each resource in the state before creating it. */
  up(lab: Lab, ctx: ProviderContext): Promise<void>;
  /** Handles to the machines and underlays of a live instance (after up, or later from the state file). */
  attach(store: StateStore, clock?: CommandClock): { machines: MachineHandle[]; underlays: UnderlayHandle[] };
  /**
   * Removes everything the state lists (and this run marked as its own), in reverse; returns what it refused to
   * touch because it could not verify it as this run's (each with why).
   */
  down(store: StateStore, o: TeardownContext): Promise<string[]>;
  /** What the state lists, this run made, and still exists. */
  leaks(store: StateStore, home: Home): Promise<string[]>;
  /** Machines of a live instance whose own process died (a VM's QEMU, a namespace's init), and why. */
  casualties?(store: StateStore): { machine: string; why: string }[];
  /**
   * Host files worth keeping in the report's consoles/ (machine consoles, the LAN's DHCP and RA log), read before
   * teardown, even when up failed; file: the name in consoles/.
   */
  logs?(store: StateStore): { file: string; path: string }[];
  access(store: StateStore, machine: MachineRecord): SshAccess;
  /** whether the machine runs on this host's own kernel (a namespace): its kernel features are this host's */
  sharesHostKernel(m: Machine): boolean;
  describe(machine: MachineRecord): MachineDescription;
}

/** A provider's own command-line options (and matrix target fields), by key. */
export type ProviderOptions = Record<string, string | undefined>;

export interface ProviderOption {
  /** the key in ProviderOptions and in a matrix target */
  key: string;
  flag: string;
  value: string;
  help: string;
  /** the value is a file: in a matrix target, relative to the targets file */
  file?: boolean;
}

/** One row of the provider table. */
export interface ProviderDef {
  name: string;
  summary: string;
  options: readonly ProviderOption[];
  create(o: ProviderOptions): Provider;
  /** what a run with these options holds exclusively (hosts): runs sharing one must not overlap (matrix) */
  exclusive?(o: ProviderOptions): string[];
  /** whether a run with these options boots VMs (one of the host's VM slots) */
  bootsVms?(o: ProviderOptions): boolean;
  /** `virtlab prune --snapshots`: removes the provider's saved machine states that no instance up uses */
  pruneSnapshots?(): { removed: string[]; kept: string[]; bytes: number };
  /** lines `virtlab doctor` prints for this provider, and the problems that stop it here */
  doctor?(): Promise<{ lines: string[]; problems: Problem[]; data: Record<string, unknown> }>;
}
