// A VM machine inside its namespace: the links that join QEMU's taps to the namespace's veths, the seed, and QEMU.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readConfig } from '../../../host/config.ts';
import { type OwnedProcess, spawnDetached } from '../../../host/proc.ts';
import { hasStaticAddress, type Machine } from '../../../lab/model.ts';
import { LocalExecutor } from '../../../transport/local.ts';
import { MGMT_NIC } from '../names.ts';
import type { NsMachine, VmState } from '../state.ts';
import { hostAccel } from './accel.ts';
import { DEFAULT_KERNEL, type MachineImage } from './image.ts';
import { isBzImage, kernelFor } from './kernels.ts';
import { qemuArgv, vmBridge, vmTap } from './qemu.ts';
import { writeSeed } from './seed.ts';
import { type Snapshot, snapshotFiles } from './snapshot.ts';

/** QEMU's own stderr (kept in the report, quoted when the VM dies). */
export const qemuStderrFile = (machineDir: string) => join(machineDir, 'qemu.out');

/** A stable, locally administered MAC for a VM's management NIC. */
export function mgmtMac(ns: string): string {
  const h = createHash('sha256').update(ns).digest();
  return `02:76:6c:${[h[0], h[1], h[2]].map((b) => b!.toString(16).padStart(2, '0')).join(':')}`;
}

/**
 * `ip -batch` lines inside the machine's namespace: bridge i joins NIC i's veth (the management veth is NIC 0)
 * and QEMU's tap i. The veths carry no address: the VM's NICs do. Each bridge is a plain wire (ageing 0: it learns
 * nothing), or a frame the underlay reflects back (hairpin, VEPA) would teach it that the guest behind the VM's NIC
 * sits on the underlay side, and it would drop the guest's traffic.
 */
export function vmLinks(veths: string[]): string[] {
  return veths.flatMap((veth, i) => [
    `link add ${vmBridge(i)} type bridge ageing_time 0`,
    `link set ${veth} master ${vmBridge(i)}`,
    `tuntap add dev ${vmTap(i)} mode tap`,
    `link set ${vmTap(i)} master ${vmBridge(i)}`,
    `link set ${vmTap(i)} up`,
    `link set ${veth} up`,
    `link set ${vmBridge(i)} up`,
  ]);
}

export const vmVeths = (spec: Machine) => [MGMT_NIC, ...spec.nics.map((n) => n.name)];

export interface VmStart {
  hostKeyFile: string;
  authorizedKeyFile: string;
  kernelFile: string;
  initrdFile: string;
  caps?: string;
  /** the host's own monitor (none when the machine's folder is too deep for a unix socket) */
  qmpSocket?: string;
  /** start from this snapshot instead of booting (its disk under this run's overlay, its NICs' MACs until reseeded) */
  restore?: Snapshot;
}

/** Writes the seed and starts QEMU inside the namespace; returns the QEMU process and the seed. */
export async function startVm(
  m: NsMachine & { vm: VmState },
  spec: Machine,
  o: VmStart,
): Promise<{ proc: OwnedProcess; seedTar: string }> {
  const { dir, ns } = m.data;
  const disk = join(dir, 'disk.qcow2');
  const mac = mgmtMac(ns);
  const from = o.restore ? snapshotFiles(o.restore) : undefined;
  await new LocalExecutor('host').run([
    'qemu-img',
    'create',
    '-q',
    '-f',
    'qcow2',
    '-F',
    'qcow2',
    '-b',
    from?.disk ?? join(m.vm.image, 'disk.qcow2'),
    disk,
  ]);
  const seed = await writeSeed(dir, {
    hostname: m.name,
    authorizedKey: readFileSync(o.authorizedKeyFile, 'utf8'),
    hostKeyFile: o.hostKeyFile,
    nics: [
      { mac, name: MGMT_NIC, address: `${m.address}/30` },
      ...spec.nics.map((n) => ({
        mac: n.mac,
        name: n.name,
        address: hasStaticAddress(n) ? n.address : undefined,
        ...(n.address6 ? { address6: n.address6 } : {}),
      })),
    ],
    libvirtCaps: o.caps,
  });
  const argv = qemuArgv({
    name: m.name,
    ram: m.ram,
    vcpu: m.vcpu,
    accel: m.vm.accel,
    kernel: o.kernelFile,
    initrd: o.initrdFile,
    disk,
    seed,
    console: m.vm.console,
    pidFile: join(dir, 'qemu.pid'),
    // a restored VM's NICs keep the snapshot's MACs until reseed.sh sets this run's
    nics: [mac, ...spec.nics.map((n) => n.mac)].map((x, i) => ({ tap: vmTap(i), mac: o.restore?.macs[i] ?? x })),
    qmpSocket: o.qmpSocket,
    incoming: from?.state,
  });
  return { proc: spawnDetached(['ip', 'netns', 'exec', ns, ...argv], qemuStderrFile(dir)), seedTar: seed };
}

/** What a VM machine will boot: its kernel picked from the image, the accelerator this host offers. */
export function vmState(m: Machine, img: MachineImage, defaultKernel: string | undefined, dir: string): VmState {
  const request = m.kernel ?? defaultKernel ?? DEFAULT_KERNEL;
  const k = kernelFor(img.kernels, request);
  return {
    kernel: k.version,
    kernelPackage: k.package,
    // a bzImage of one's own boots in place of the image's kernel of the same version
    ...(isBzImage(request) ? { kernelFile: request } : {}),
    accel: hostAccel(readConfig()).accel,
    image: img.dir,
    console: join(dir, 'console.log'),
  };
}

export function vmImageFiles(vm: VmState): { kernelFile: string; initrdFile: string } {
  return {
    kernelFile: vm.kernelFile ?? join(vm.image, `vmlinuz-${vm.kernel}`),
    initrdFile: join(vm.image, `initrd.img-${vm.kernel}`),
  };
}
