// A warm libvirt capability cache for VM machines: libvirtd probes QEMU on its first start (slow under TCG). The
// probe's result from one boot is kept on the host, per image, kernel and accelerator, and seeded into later boots.
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Home } from '../../../host/home.ts';
import type { Executor } from '../../../transport/executor.ts';
import type { VmState } from '../state.ts';

export function warmCapsFile(home: Home, vm: VmState): string {
  return join(home.cache, 'vm-libvirt-caps', `${basename(vm.image)}-${vm.kernel}-${vm.accel}.tar`);
}

export async function saveWarmCaps(exec: Executor, home: Home, vm: VmState): Promise<void> {
  const file = warmCapsFile(home, vm);
  if (existsSync(file)) return;
  try {
    // `virsh capabilities` makes libvirtd probe every QEMU binary now (once per image, kernel and accelerator)
    const r = await exec.run(
      ['sh', '-c', 'virsh capabilities >/dev/null && tar -cf - -C /var/cache/libvirt/qemu capabilities | base64 -w0'],
      { check: false, timeoutMs: 180000 },
    );
    if (r.exitCode !== 0 || !r.stdout) return;
    mkdirSync(join(home.cache, 'vm-libvirt-caps'), { recursive: true });
    writeFileSync(`${file}.${process.pid}`, Buffer.from(r.stdout, 'base64'));
    renameSync(`${file}.${process.pid}`, file);
  } catch {
    /* a cache; best effort */
  }
}
