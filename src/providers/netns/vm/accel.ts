// How VM machines run on this host, and whether KVM works for guests inside them (nested virtualization).
import { existsSync, readFileSync } from 'node:fs';
import { type Config, readConfig } from '../../../host/config.ts';

export type Accel = 'kvm' | 'tcg';

function cpuFlags(): string[] {
  try {
    return /^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(/\s+/) ?? [];
  } catch {
    return [];
  }
}

/** KVM needs /dev/kvm and the CPU's own virtualization (a PVM-only /dev/kvm cannot run ordinary kernels). */
export function hostAccel(c: Pick<Config, 'vmAccel'> = readConfig()): { accel: Accel; why: string } {
  const forced = c.vmAccel;
  if (forced) return { accel: forced, why: 'VIRTLAB_VM_ACCEL' };
  const flags = cpuFlags();
  const hw = flags.includes('vmx') ? 'vmx' : flags.includes('svm') ? 'svm' : undefined;
  if (existsSync('/dev/kvm') && hw) return { accel: 'kvm', why: `/dev/kvm and ${hw}` };
  return {
    accel: 'tcg',
    why: hw
      ? 'no /dev/kvm'
      : existsSync('/dev/kvm')
        ? '/dev/kvm exists but the CPU offers no vmx/svm (PVM-only KVM)'
        : 'no /dev/kvm',
  };
}

/** Nested virtualization as the host's KVM module reports it, when it is loaded. */
export function hostNested(): string | undefined {
  for (const m of ['kvm_intel', 'kvm_amd']) {
    try {
      return `${m} nested=${readFileSync(`/sys/module/${m}/parameters/nested`, 'utf8').trim()}`;
    } catch {
      /* not loaded */
    }
  }
  return undefined;
}

/**
 * Inside a machine: exits 0 when /dev/kvm works there (the command the provider runs in each hypervisor VM). udev
 * loads the kvm modules while the machine boots, and on a busy host that can be after libvirtd answers: the probe
 * loads them itself and gives them up to 15 s (a CI run once saw guests fall back to TCG for want of this).
 */
export const KVM_PROBE = [
  'sh',
  '-c',
  'grep -qwE "svm|vmx" /proc/cpuinfo || exit 1; for i in $(seq 30); do test -c /dev/kvm && test -e /sys/module/kvm && exit 0; modprobe -q kvm_amd 2>/dev/null || modprobe -q kvm_intel 2>/dev/null; sleep 0.5; done; exit 1',
];
