// A live lab as the kinds see it: its machines and underlays reachable through Executors (bound to the run's abort
// signal), guests through their serial consoles, and the state file every created resource goes into first.
import { HostError } from '../errors.ts';
import type { ResolvedImage } from '../host/images.ts';
import type { Resource, StateStore } from '../host/state.ts';
import { consoleLogPath, qemuPidPath } from '../hypervisor/commands.ts';
import type { Lab } from '../lab/model.ts';
import type { Emit } from '../report/events.ts';
import { ConsoleExecutor } from '../transport/console.ts';
import type { Executor } from '../transport/executor.ts';
import type { MachineHandle, UnderlayHandle } from '../transport/handles.ts';
import { ObservedExecutor } from '../transport/observed.ts';
import { SignalExecutor } from '../transport/signal.ts';

export interface Session {
  lab: Lab;
  store: StateStore;
  machines: Map<string, MachineHandle>;
  underlays: Map<string, UnderlayHandle>;
  /** serial-console executors of guests, made on first use */
  consoles: Map<string, Executor>;
  /** console logins by image ref (official CirrOS images need one) */
  logins: Map<string, { user: string; password: string }>;
  /** the guest images this run uses, by ref */
  images: Map<string, ResolvedImage>;
  emit: Emit;
  signal: AbortSignal;
}

export function makeSession(
  lab: Lab,
  store: StateStore,
  handles: { machines: MachineHandle[]; underlays: UnderlayHandle[] },
  emit: Emit,
  signal: AbortSignal,
  images: Map<string, ResolvedImage> = new Map(),
): Session {
  // every command a kind runs is reported as a `command` event (--verbose shows them, --json streams them)
  const observed = (x: Executor) =>
    new ObservedExecutor(new SignalExecutor(x, signal), (c) => emit({ type: 'command', ...c }));
  const bound = (m: MachineHandle): MachineHandle => ({ ...m, exec: observed(m.exec) });
  return {
    lab,
    store,
    emit,
    signal,
    images,
    consoles: new Map(),
    logins: new Map([...images.values()].flatMap((i) => (i.login ? [[i.ref, i.login] as const] : []))),
    machines: new Map(handles.machines.map((m) => [m.name, bound(m)])),
    underlays: new Map(handles.underlays.map((u) => [u.name, { ...u, leases: u.leases, exec: observed(u.exec) }])),
  };
}

/** Records a resource in the state file before it is created. */
export function record(s: Session, r: Resource): Resource {
  return s.store.record(r);
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

/** Is this machine a VM, or this guest inside one? */
export function inVm(s: Session, name: string): boolean {
  const g = s.lab.guests.find((x) => x.name === name);
  return s.machines.get(g ? g.on : name)?.vm ?? false;
}

/** How a hypervisor's guests are accelerated (TCG unless KVM works inside the machine). */
export function guestVirt(s: Session, machine: string): 'qemu' | 'kvm' {
  return s.machines.get(machine)?.guestVirt ?? 'qemu';
}
