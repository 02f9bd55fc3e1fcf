// Host checks for VM machines (also `virtlab doctor`): the tools that build and boot the machine image, and memory.
import { readFileSync } from 'node:fs';
import { readConfig } from '../../../host/config.ts';
import { which } from '../../../host/which.ts';
import type { Machine } from '../../../lab/model.ts';
import type { Problem } from '../../port.ts';
import { hostAccel, hostNested } from './accel.ts';

const TOOLS: Record<string, string> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-img': 'qemu-utils',
  mmdebstrap: 'mmdebstrap',
  'mkfs.ext4': 'e2fsprogs',
  tar: 'tar',
};

export function memAvailableMiB(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Math.floor(Number(m[1]) / 1024) : Number.POSITIVE_INFINITY;
}

export function vmProblems(vms: Machine[]): Problem[] {
  if (!vms.length) return [];
  const problems: Problem[] = [];
  const missing = Object.entries(TOOLS).filter(([b]) => !which(b));
  if (missing.length) {
    problems.push({
      what: `VM machines need ${missing.map(([b]) => b).join(', ')}`,
      hint: `apt-get install -y ${[...new Set(missing.map(([, p]) => p))].join(' ')}   (or: bash scripts/install-deps.sh)`,
    });
  }
  const want = vms.reduce((a, m) => a + m.ram, 0) + 256 * vms.length;
  const have = memAvailableMiB();
  if (want > have)
    problems.push({
      what: `the VMs need about ${want} MiB of memory, ${have} MiB are available`,
      hint: 'give the machines less ram in machines.yml, or stop other labs',
    });
  return problems;
}

/** What `virtlab doctor` says about nested virtualization. */
export function nestedReport(): string[] {
  const a = hostAccel();
  const nested = hostNested();
  return [
    `VM machines:     QEMU ${a.accel === 'kvm' ? 'with KVM' : 'TCG (software emulation)'} (${a.why})${readConfig().vmAccel ? '' : '; VIRTLAB_VM_ACCEL=tcg|kvm overrides'}`,
    a.accel === 'kvm'
      ? `nested:          ${nested ?? 'unknown (kvm_intel/kvm_amd not loaded)'}: guests inside hypervisor VMs use KVM when the host module allows nesting (nested=Y/1)`
      : 'nested:          with -cpu max, TCG emulates AMD SVM, so KVM works inside hypervisor VMs: their guests run under (nested) KVM',
    'inside each VM:  `virtlab up` probes /dev/kvm in every hypervisor VM and says whether its guests run under KVM or TCG (VIRTLAB_GUEST_VIRT=qemu forces TCG)',
  ];
}
