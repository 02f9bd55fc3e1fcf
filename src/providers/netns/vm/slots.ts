// How many labs with VM machines this host runs at once. Two labs of TCG VMs with nested guests on 2 cores left
// both guests without a lease after 3 minutes; one lab at a time takes about a minute each. A second lab waits for
// the first (it says so); a kept instance holding the slot is named with what to do.
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { HostError } from '../../../errors.ts';
import { readConfig, vmSlotCount } from '../../../host/config.ts';
import type { Home } from '../../../host/home.ts';
import { runnerAlive } from '../../../host/instance.ts';
import { withHostLock } from '../../../host/lock.ts';
import { isAlive } from '../../../host/proc.ts';
import { StateStore } from '../../../host/state.ts';
import type { Emit } from '../../../report/events.ts';
import { isNsState, nsData, setNsData } from '../state.ts';

/** One lab of VMs per 4 cores (at least one); VIRTLAB_VM_SLOTS overrides. */
export function vmSlots(forced = readConfig().vmSlots, cores = availableParallelism()): number {
  return vmSlotCount(forced, cores);
}

/**
 * Whether an instance's VMs may still be using the host's cores: its run is going, it is kept, or a process it
 * started (a VM's QEMU) is still alive. One whose run ended without its teardown and whose processes are all gone
 * (the host rebooted, or they were killed) holds no slot: `virtlab down` still removes what it left.
 */
export function holdsCores(o: StateStore): boolean {
  if (o.state.status === 'kept' || runnerAlive(o)) return true;
  return o.state.resources.some((r) => r.kind === 'process' && r.proc !== undefined && isAlive(r.proc));
}

export async function claimVmSlot(home: Home, store: StateStore, emit: Emit, signal: AbortSignal): Promise<void> {
  const slots = vmSlots();
  let said = false;
  for (;;) {
    // interrupted before or while waiting (an abort listener added after the abort would never fire)
    if (signal.aborted) throw signal.reason;
    const holders = await withHostLock(home, () => {
      const others = StateStore.list(home).filter(
        (o) => o.path !== store.path && isNsState(o) && nsData(o).vmSlot && o.state.status !== 'down' && holdsCores(o),
      );
      if (others.length < slots)
        setNsData(store, (d) => {
          d.vmSlot = true;
        });
      return others.length < slots ? [] : others;
    });
    if (!holders.length) return;
    const running = holders.filter((o) => o.state.status !== 'kept' && runnerAlive(o));
    if (!running.length) {
      const names = holders.map((o) => o.state.instance);
      // kept on purpose (--keep, up) or left by a run that ended without its teardown (killed, crashed)
      const why = holders.map((o) =>
        o.state.status === 'kept'
          ? `${o.state.instance} keeps its VMs up`
          : `${o.state.instance}'s run (pid ${o.state.runner.pid}) ended without removing its VMs`,
      );
      throw new HostError(
        `this host runs the VMs of ${slots} lab${slots > 1 ? 's' : ''} at a time, and ${why.join('; ')}`,
        `virtlab down ${names[0]} first, or set VIRTLAB_VM_SLOTS=${slots + 1} to run both (each far slower: TCG VMs share ${availableParallelism()} cores)`,
      );
    }
    if (!said) {
      emit({
        type: 'log',
        level: 'info',
        message: `waiting for ${running.map((o) => `${o.state.instance} (pid ${o.state.runner.pid})`).join(', ')} to finish: this ${availableParallelism()}-core host runs the VMs of ${slots} lab${slots > 1 ? 's' : ''} at a time (VIRTLAB_VM_SLOTS overrides)`,
      });
      said = true;
    }
    // an abortable timer: no abort listener left behind per second of waiting
    await sleep(1000, undefined, { signal }).catch(() => {
      throw signal.reason;
    });
  }
}
