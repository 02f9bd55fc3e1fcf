// The state file of a lab instance: every resource is recorded here BEFORE it is created, so `down` can always
// find it (even after kill -9), and nothing that is not listed here is ever touched.
import type { VmState } from '../providers/vm/machine.ts';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  existsSync,
  openSync,
  fsyncSync,
  closeSync,
} from 'node:fs';
import { join } from 'node:path';
import { HostError } from '../errors.ts';
import type { Home } from './home.ts';
import type { OwnedProcess } from './proc.ts';

export type Resource =
  | { kind: 'netns'; name: string; owner: string }
  | { kind: 'link'; name: string; owner: string }
  | { kind: 'process'; label: string; owner: string; proc?: OwnedProcess }
  | { kind: 'dir'; path: string; owner: string }
  | { kind: 'libvirt-network'; name: string; owner: string }
  | { kind: 'domain'; name: string; owner: string }
  | { kind: 'remote-file'; path: string; owner: string }
  /** a change on an existing host, and the argv that undoes it there */
  | { kind: 'undo'; what: string; owner: string; argv: string[] };

export interface MachineState {
  name: string;
  role: 'hypervisor' | 'peer';
  ns: string;
  dir: string;
  mgmtHost: string; // the machine's end (sshd listens here)
  mgmtLocal: string; // the root namespace's end
  mgmtLink: string;
  hostKey: string; // base64 public key blob
  ifindexBase?: number;
  ram: number;
  vcpu: number;
  /** set when the machine is a QEMU VM (vm provider, or `provider: vm` in machines.yml) */
  vm?: VmState;
}

export interface NetworkState {
  name: string;
  ns: string;
  dir: string;
  leaseFile: string;
  bridge: string;
  macFiltering?: boolean;
  /** machine NICs plugged into this network's bridge */
  ports: { machine: string; machineNs: string; nic: string; port: string; mac: string }[];
}

export interface LabState {
  version: 1;
  instance: string;
  lab: string;
  labFile: string;
  variant?: string;
  /** `up --until`: the step the setup stopped before */
  until?: string;
  runId: string;
  provider: string;
  runnerPid: number;
  createdAt: string;
  runDir: string;
  keyFile: string;
  /** ssh provider: the inventory of existing hosts */
  inventory?: string;
  status: 'creating' | 'up' | 'kept' | 'tearing-down' | 'down';
  /** the instance runs VM machines and holds one of the host's VM slots (src/providers/vm/slots.ts) */
  vmSlot?: boolean;
  mgmtBlock?: number; // index of the management address block
  slot?: number; // ifindex slot
  machines: MachineState[];
  networks: NetworkState[];
  resources: Resource[];
}

/** One state file; every change is written (atomically, 0600) before the caller proceeds. */
export class StateStore {
  readonly path: string;
  state: LabState;
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

  static load(path: string): StateStore {
    let raw: string;
    try {
      raw = readFileSync(path, 'utf8');
    } catch (e) {
      throw new HostError(`cannot read state file ${path}: ${(e as Error).message}`);
    }
    try {
      return new StateStore(path, JSON.parse(raw) as LabState);
    } catch {
      throw new HostError(`state file ${path} is corrupted`, 'inspect it by hand; it lists what the run created');
    }
  }

  static list(h: Home): StateStore[] {
    if (!existsSync(h.state)) return [];
    return readdirSync(h.state)
      .filter((f) => f.endsWith('.json'))
      .flatMap((f) => {
        try {
          return [StateStore.load(join(h.state, f))];
        } catch {
          return [];
        }
      });
  }

  /** Records a resource before it is created. */
  record(r: Resource): Resource {
    this.state.resources.push(r);
    this.save();
    return r;
  }

  update(fn: (s: LabState) => void): void {
    fn(this.state);
    this.save();
  }

  save(): void {
    const tmp = `${this.path}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(this.state, null, 2), { mode: 0o600 });
      const fd = openSync(tmp, 'r');
      fsyncSync(fd);
      closeSync(fd);
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
    } catch (e) {
      throw new HostError(`cannot remove state file ${this.path}: ${(e as Error).message}`);
    }
  }
}
