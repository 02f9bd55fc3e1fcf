// The state file of a lab instance: every resource is recorded here BEFORE it is created, so `down` can always
// find it (even after kill -9). It says what to look for, never what to trust: every removal checks the resource
// still carries this run's mark (see the provider port).
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { HostError } from '../errors.ts';
import type { Home } from './home.ts';
import { isInstanceName } from './names.ts';
import type { OwnedProcess } from './proc.ts';

export type Resource =
  | { kind: 'netns'; name: string; owner: string /** the namespace file's inode, once created */; ino?: number }
  | { kind: 'link'; name: string; owner: string }
  | { kind: 'process'; label: string; owner: string; proc?: OwnedProcess }
  | { kind: 'dir'; path: string; owner: string }
  | { kind: 'libvirt-network'; name: string; owner: string; uuid?: string }
  | { kind: 'domain'; name: string; owner: string; uuid?: string }
  | { kind: 'remote-file'; path: string; owner: string }
  /** a change on a machine and how to undo it (the argv is built by code from the op, never read from the file) */
  | { kind: 'undo'; what: string; owner: string; op: UndoOp };

export type UndoOp =
  | { type: 'rmdir'; path: string }
  | { type: 'promisc'; nic: string; state: 'on' | 'off' }
  | { type: 'stop-qemu'; guest: string }
  /** a link the run created, removed only while it still carries the run's alias */
  | { type: 'del-link'; name: string; mark: string }
  /** an Open vSwitch bridge the run created, removed only while it carries the run's external id */
  | { type: 'ovs-del-br'; name: string; mark: string }
  /** an address a bridge took over from its port, given back */
  | { type: 'add-address'; dev: string; address: string }
  /** a netem qdisc a step put on a device, removed while it is still netem */
  | { type: 'del-netem'; dev: string };

/** A machine as every provider records it; what only its provider needs is in `data`. */
export interface MachineRecord {
  name: string;
  role: 'hypervisor' | 'peer';
  ram: number;
  vcpu: number;
  /** where its sshd answers */
  address: string;
  /** its pinned host key (the base64 blob of an OpenSSH public key); '' until known */
  hostKey: string;
  data?: unknown;
}

export const STATE_VERSION = 2;

/** Resources that do not outlive this host's boot: a namespace, a link in the host's kernel, a process. */
const ENDS_WITH_BOOT = new Set<Resource['kind']>(['netns', 'link', 'process']);

export interface LabState {
  version: typeof STATE_VERSION;
  instance: string;
  lab: string;
  labFile: string;
  variant?: string;
  /** `up --until`: the step the setup stopped before */
  until?: string;
  runId: string;
  provider: string;
  /** the provider's own options (inventory, kernel), so that down, check and reset reach the same machines */
  providerOptions: Record<string, string>;
  /** the run's process, by PID and start time (a reused PID is never taken for it) */
  runner: OwnedProcess;
  createdAt: string;
  runDir: string;
  keyFile: string;
  status: 'creating' | 'up' | 'kept' | 'tearing-down' | 'down';
  /** course mode: a student's own parameter values (exercise.vary), with which the lab is rendered for them */
  params?: Record<string, string>;
  /** break-fix: the faults put into this instance (for the teacher; the student is not told) */
  faults?: string[];
  machines: MachineRecord[];
  /** what the provider keeps about the whole instance (underlay networks, slots) */
  data?: unknown;
  resources: Resource[];
}

const FORGET_HINT = (instance: string) =>
  `nothing was removed; look at the file, remove what it lists by hand, then drop it with: virtlab down --force-forget ${instance}`;

/** Checks the shape of a state file, so that a corrupt or foreign one is refused rather than acted upon. */
export function stateProblem(v: unknown, file: string): string | undefined {
  const s = v as Partial<LabState> | null;
  if (!s || typeof s !== 'object') return 'it is not a JSON object';
  if (s.version !== STATE_VERSION)
    return `it has version ${JSON.stringify(s.version)}, not ${STATE_VERSION} (made by another virtlab version)`;
  if (typeof s.instance !== 'string' || !isInstanceName(s.instance)) return 'its instance name is missing or invalid';
  if (`${s.instance}.json` !== file.split('/').pop()) return `it names instance "${s.instance}", not its own file name`;
  for (const k of ['lab', 'labFile', 'runId', 'provider', 'createdAt', 'runDir', 'keyFile', 'status'] as const) {
    if (typeof s[k] !== 'string') return `its field "${k}" is missing`;
  }
  if (!s.runner || !Number.isInteger(s.runner.pid) || typeof s.runner.start !== 'string')
    return 'its runner is missing';
  if (!Array.isArray(s.machines) || !Array.isArray(s.resources)) return 'its machines or resources are missing';
  return undefined;
}

export class StateStore {
  readonly path: string;
  state: LabState;
  /** set once the file is removed: a late write (a step still ending) must not bring back a file for a torn-down lab */
  private removed = false;
  constructor(path: string, state: LabState) {
    this.path = path;
    this.state = state;
  }

  static pathFor(h: Home, instance: string): string {
    return join(h.state, `${instance}.json`);
  }

  static create(h: Home, state: LabState): StateStore {
    try {
      mkdirSync(h.state, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new HostError(
        `cannot write state file ${StateStore.pathFor(h, state.instance)}: ${(e as Error).message}`,
        'virtlab needs a writable VIRTLAB_HOME (default /var/lib/virtlab)',
      );
    }
    const s = new StateStore(StateStore.pathFor(h, state.instance), state);
    s.save();
    return s;
  }

  /** Loads a state file; a missing, corrupt or foreign one is a HostError (exit 3) that says what to do. */
  static load(path: string): StateStore {
    let raw: string;
    try {
      raw = readFileSync(path, 'utf8');
    } catch (e) {
      throw new HostError(`cannot read state file ${path}: ${(e as Error).message}`);
    }
    const instance = path
      .split('/')
      .pop()!
      .replace(/\.json$/, '');
    let data: unknown;
    try {
      data = JSON.parse(raw);
    } catch {
      throw new HostError(`state file ${path} is corrupted (not JSON)`, FORGET_HINT(instance));
    }
    const problem = stateProblem(data, path);
    if (problem) throw new HostError(`state file ${path} cannot be used: ${problem}`, FORGET_HINT(instance));
    return new StateStore(path, data as LabState);
  }

  /** Every state file: the usable ones, and the ones that cannot be used with why. */
  static scan(h: Home): { stores: StateStore[]; broken: { path: string; why: string }[] } {
    const stores: StateStore[] = [];
    const broken: { path: string; why: string }[] = [];
    if (!existsSync(h.state)) return { stores, broken };
    for (const f of readdirSync(h.state)
      .filter((x) => x.endsWith('.json'))
      .sort()) {
      try {
        stores.push(StateStore.load(join(h.state, f)));
      } catch (e) {
        broken.push({ path: join(h.state, f), why: (e as Error).message });
      }
    }
    return { stores, broken };
  }

  static list(h: Home): StateStore[] {
    return StateStore.scan(h).stores;
  }

  /**
   * Records a resource before it is created. The record is on disk first (a new file renamed over the old one),
   * and forced to it (fsync) unless the resource ends with this host's boot: then a power loss takes both.
   */
  record(r: Resource): Resource {
    this.state.resources.push(r);
    this.save(!ENDS_WITH_BOOT.has(r.kind));
    return r;
  }

  update(fn: (s: LabState) => void): void {
    fn(this.state);
    this.save();
  }

  /**
   * A change that matters only while this host stays up (a process's PID, a namespace's inode, a host link's
   * port): written like any other, not forced to disk. The next durable save carries it too.
   */
  note(fn: (s: LabState) => void): void {
    fn(this.state);
    this.save(false);
  }

  save(durable = true): void {
    if (this.removed) return;
    const tmp = `${this.path}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(this.state, null, 2), { mode: 0o600 });
      if (durable) {
        const fd = openSync(tmp, 'r');
        fsyncSync(fd);
        closeSync(fd);
      }
      renameSync(tmp, this.path);
    } catch (e) {
      throw new HostError(
        `cannot write state file ${this.path}: ${(e as Error).message}`,
        'virtlab needs a writable VIRTLAB_HOME (default /var/lib/virtlab)',
      );
    }
  }

  remove(): void {
    try {
      rmSync(this.path, { force: true });
      this.removed = true;
    } catch (e) {
      throw new HostError(`cannot remove state file ${this.path}: ${(e as Error).message}`);
    }
  }
}
