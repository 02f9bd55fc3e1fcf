// Shared by the VM tiers (test/vm in CI, test/slow by hand): report folders, cleanup after a failed test, the
// QEMU process of an instance.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { virtlab } from './host.ts';

export const tmp = () => mkdtempSync(join(tmpdir(), 'virtlab-vm-'));
export const LONG = { timeoutMs: 900000 };

/** A failed test must not leave its instance behind: it would hold the host's VM slot and fail every test after it. */
export function removeAfter(t: { teardown: (fn: () => void) => void }, ...instances: string[]): void {
  t.teardown(() => {
    for (const i of instances) if (existsSync(`/var/lib/virtlab/state/${i}.json`)) virtlab(['down', i]);
  });
}

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

/** The QEMU process of kvm-01 in an instance, from its state file (recorded before it was started). */
export function qemuOf(instance: string): number | undefined {
  try {
    const s = JSON.parse(readFileSync(`/var/lib/virtlab/state/${instance}.json`, 'utf8'));
    return s.resources.find((x: any) => x.kind === 'process' && x.label === 'VM kvm-01 (QEMU)')?.proc?.pid;
  } catch {
    return undefined;
  }
}
