// Starting a VM machine: from its snapshot when the cache holds one for its image, kernel and shape (seconds),
// else a cold boot, whose booted state is then saved for the next runs (snapshot.ts).
import { rmSync } from 'node:fs';
import { HostError } from '../../../errors.ts';
import { readConfig } from '../../../host/config.ts';
import { isAlive, killOwned, type OwnedProcess } from '../../../host/proc.ts';
import type { Machine } from '../../../lab/model.ts';
import type { Executor } from '../../../transport/executor.ts';
import type { ProviderContext } from '../../port.ts';
import { tail } from '../network.ts';
import type { NsMachine, VmState } from '../state.ts';
import { warmCapsFile } from './caps.ts';
import { mgmtMac, qemuStderrFile, startVm, vmImageFiles } from './machine.ts';
import { Qmp } from './qmp.ts';
import {
  findSnapshot,
  hasHostMonitor,
  qmpSocketPath,
  reseed,
  resumeRestored,
  type Snapshot,
  saveSnapshot,
  snapshotInputs,
  snapshotKey,
} from './snapshot.ts';

/** What QEMU says of a saved state it cannot load (another QEMU's, a truncated file). */
const UNREADABLE = /migration|savevm|section|vmstate|incoming|No such file|Input\/output/i;

/** A machine that did not answer: why, with the last lines of its console (or its init's log). */
export function didNotComeUp(name: string, why: string, log: string, vm: boolean): HostError {
  return new HostError(
    `${name} did not come up: ${why}\n--- last lines of ${log} ---\n${tail(log, 20)}`,
    vm ? 'the whole console is kept in the report folder (consoles/)' : undefined,
  );
}

/** How long a restored VM may take to answer on its link-local address and take this run's identity. */
const RESTORE_MS = 60_000;

export interface VmBoot {
  proc: OwnedProcess;
  /** the snapshot key of this machine (none: snapshots are off, or no host monitor) */
  key?: string;
  inputs?: ReturnType<typeof snapshotInputs>;
  restored?: Snapshot;
}

export type VmMachine = NsMachine & { data: NsMachine['data'] & { vm: VmState } };

/**
 * Starts the VM: restored and reseeded when a snapshot fits, else booted. `started` records each QEMU process as
 * soon as it exists (teardown must find it even if the start fails later).
 */
export async function bootVm(
  spec: Machine,
  m: VmMachine,
  ctx: ProviderContext,
  keys: { hostKeyFile: string; authorizedKeyFile: string },
  started: (p: OwnedProcess) => void,
): Promise<VmBoot> {
  const { vm, dir } = m.data;
  const monitor = hasHostMonitor(dir) ? qmpSocketPath(dir) : undefined;
  const shape = { role: m.role, ram: m.ram, vcpu: m.vcpu, nics: spec.nics.length };
  const inputs = monitor && readConfig().vmSnapshots ? snapshotInputs(vm, shape) : undefined;
  const key = inputs && snapshotKey(inputs);
  const base = { ...keys, caps: warmCapsFile(ctx.home, vm), qmpSocket: monitor, ...vmImageFiles(vm) };
  const snap = key ? findSnapshot(ctx.home, key) : undefined;
  if (snap) {
    const { proc, seedTar } = await startVm({ ...m, vm }, spec, { ...base, restore: snap });
    started(proc);
    const died = new AbortController();
    const watch = setInterval(() => {
      if (!isAlive(proc)) died.abort(new HostError(`QEMU exited: ${tail(qemuStderrFile(dir), 3)}`));
    }, 250);
    try {
      const signal = AbortSignal.any([ctx.signal, died.signal]);
      const qmp = await Qmp.connect(monitor!);
      try {
        await resumeRestored(qmp, RESTORE_MS, signal);
      } finally {
        qmp.close();
      }
      await reseed(snap, { machine: m.name, mgmtLink: m.data.mgmtLink, seedTar, deadlineMs: RESTORE_MS, signal });
      return { proc, key, inputs, restored: snap };
    } catch (e) {
      if (ctx.signal.aborted) throw e;
      const stderr = tail(qemuStderrFile(dir), 3);
      // killed, or out of memory: as a boot that dies (a snapshot QEMU cannot read says so on its stderr)
      if (died.signal.aborted && !UNREADABLE.test(stderr))
        throw didNotComeUp(m.name, `QEMU exited${stderr ? `: ${stderr}` : ''}`, vm.console, true);
      const why = (died.signal.aborted ? (died.signal.reason as Error).message : (e as Error).message)
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .join('; ');
      ctx.emit({
        type: 'log',
        level: 'warn',
        message: `${m.name}: starting from snapshot ${key} failed (${why}); booting it instead, and saving a new snapshot`,
      });
      await killOwned(proc);
      rmSync(snap.dir, { recursive: true, force: true });
    } finally {
      clearInterval(watch);
    }
  }
  const { proc } = await startVm({ ...m, vm }, spec, base);
  started(proc);
  return { proc, key, inputs };
}

/** After a cold boot answered: saves its state for later runs (best effort: a run never fails for it). */
export async function saveAfterBoot(
  boot: VmBoot,
  m: VmMachine,
  spec: Machine,
  exec: Executor,
  ctx: ProviderContext,
): Promise<void> {
  if (!boot.key || !boot.inputs || boot.restored || findSnapshot(ctx.home, boot.key)) return;
  let qmp: Qmp | undefined;
  try {
    qmp = await Qmp.connect(qmpSocketPath(m.data.dir));
    const r = await saveSnapshot(qmp, exec, {
      home: ctx.home,
      inputs: boot.inputs,
      machineDir: m.data.dir,
      macs: [mgmtMac(m.data.ns), ...spec.nics.map((n) => n.mac)],
      hostKey: m.hostKey!,
      keyFile: ctx.store.state.keyFile,
    });
    const mib = r.snapshot ? `${Math.round(r.snapshot.bytes / 2 ** 20)} MiB, ` : '';
    ctx.emit({
      type: 'log',
      level: r.snapshot ? 'info' : 'warn',
      message: r.snapshot
        ? `${m.name}: saved its booted state (${mib}paused ${((r.pausedMs ?? 0) / 1000).toFixed(1)} s): the next runs of this image, kernel and machine start from it`
        : `${m.name}: no snapshot saved: ${r.why}`,
    });
  } catch (e) {
    if (ctx.signal.aborted) throw e;
    ctx.emit({ type: 'log', level: 'warn', message: `${m.name}: no snapshot saved: ${(e as Error).message}` });
  } finally {
    qmp?.close();
  }
}
