// A live lab: its machines and underlays reachable through Executors, plus what every step and check needs.
import type { Lab } from '../lab/model.ts';
import type { MachineHandle, UnderlayHandle } from '../providers/provider.ts';
import type { Emit } from '../report/events.ts';
import type { Executor } from '../transport/executor.ts';
import type { StateStore } from './state.ts';
import { HostError } from '../errors.ts';

export interface Session {
  lab: Lab;
  store: StateStore;
  machines: Map<string, MachineHandle>;
  underlays: Map<string, UnderlayHandle>;
  emit: Emit;
  signal: AbortSignal;
}

export function exec(s: Session, machine: string): Executor {
  const m = s.machines.get(machine);
  if (!m) throw new HostError(`machine ${machine} is not part of this lab instance`);
  return m.exec;
}

export async function closeAll(s: Session): Promise<void> {
  await Promise.all([...s.machines.values()].map((m) => m.exec.close().catch(() => {})));
}
