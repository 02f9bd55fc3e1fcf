// A live lab: its machines and underlays reachable through Executors, guests through their serial consoles.
import { HostError } from '../errors.ts';
import { consoleLogPath, qemuPidPath } from '../hypervisor/commands.ts';
import type { Lab } from '../lab/model.ts';
import type { MachineHandle, UnderlayHandle } from '../providers/provider.ts';
import type { Emit } from '../report/events.ts';
import { ConsoleExecutor } from '../transport/console.ts';
import type { Executor } from '../transport/executor.ts';
import type { StateStore } from './state.ts';

export interface Session {
  lab: Lab;
  store: StateStore;
  machines: Map<string, MachineHandle>;
  underlays: Map<string, UnderlayHandle>;
  /** serial-console executors of guests, made on first use */
  consoles: Map<string, Executor>;
  /** console logins by image ref (official CirrOS images need one) */
  logins: Map<string, { user: string; password: string }>;
  emit: Emit;
  signal: AbortSignal;
}

export function makeSession(
  lab: Lab,
  store: StateStore,
  handles: { machines: MachineHandle[]; underlays: UnderlayHandle[] },
  emit: Emit,
  signal: AbortSignal,
): Session {
  return {
    lab,
    store,
    emit,
    signal,
    consoles: new Map(),
    logins: new Map(),
    machines: new Map(handles.machines.map((m) => [m.name, m])),
    underlays: new Map(handles.underlays.map((u) => [u.name, u])),
  };
}

export function exec(s: Session, machine: string): Executor {
  const m = s.machines.get(machine);
  if (!m) throw new HostError(`machine ${machine} is not part of this lab instance`);
  return m.exec;
}

/** A machine's Executor (ssh), or a guest's (its serial console on its hypervisor). */
export function nodeExec(s: Session, name: string): Executor {
  if (s.machines.has(name)) return exec(s, name);
  const g = s.lab.guests.find((x) => x.name === name);
  if (!g) throw new HostError(`${name} is neither a machine nor a guest of this lab`);
  let c = s.consoles.get(name);
  if (!c) {
    c = new ConsoleExecutor({
      guest: name,
      host: exec(s, g.on),
      logPath: consoleLogPath(name),
      login: s.logins.get(g.image.ref),
      qemuPidFile: g.qemu ? qemuPidPath(name) : undefined,
    });
    s.consoles.set(name, c);
  }
  return c;
}

export async function closeAll(s: Session): Promise<void> {
  await Promise.all([...s.machines.values()].map((m) => m.exec.close().catch(() => {})));
}

/**
 * How much slower a node answers than a namespace machine: machines that are VMs and guests inside them run
 * emulated (TCG), so their timeouts stretch by this factor.
 */
export function slowFactor(s: Session, name: string): number {
  return inVm(s, name) ? 3 : 1;
}

/** Is this machine a VM, or this guest inside one? */
export function inVm(s: Session, name: string): boolean {
  const g = s.lab.guests.find((x) => x.name === name);
  return s.machines.get(g ? g.on : name)?.vm ?? false;
}
