// The QEMU command line of a VM machine. It runs inside the machine's namespace, where each NIC's tap sits on a
// bridge with that NIC's veth (the same underlay plumbing as netns machines).
import { quoteArg } from '../../../transport/quote.ts';
import type { Accel } from './accel.ts';

export interface VmSpec {
  name: string;
  ram: number;
  vcpu: number;
  accel: Accel;
  kernel: string;
  initrd: string;
  disk: string;
  seed: string;
  console: string;
  pidFile: string;
  /** in order: the management NIC first, then the lab's NICs */
  nics: { tap: string; mac: string }[];
  /** the host's own monitor (a unix socket): saving a snapshot goes through it */
  qmpSocket?: string;
  /** start from a saved state (snapshot.ts) instead of booting */
  incoming?: string;
}

export const vmTap = (i: number) => `vmtap${i}`;
export const vmBridge = (i: number) => `vmbr${i}`;
/** QEMU's device id of NIC i (QMP's query-rx-filter names a NIC by it) */
export const vmNicId = (i: number) => `nic${i}`;
/**
 * QMP listens on the machine namespace's own loopback (nothing else can reach it): the switch agent of a
 * mac-filtering underlay reads there whether the VM's NIC is promiscuous.
 */
export const VM_QMP_PORT = 4444;

export function qemuArgv(v: VmSpec): string[] {
  return [
    'qemu-system-x86_64',
    '-name',
    `virtlab-${v.name},process=virtlab-${v.name}`,
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    // TCG with -cpu max emulates AMD SVM: KVM then works inside the VM (HOST-NOTES)
    ...(v.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max']),
    '-smp',
    String(v.vcpu),
    '-m',
    String(v.ram),
    '-kernel',
    v.kernel,
    '-initrd',
    v.initrd,
    '-append',
    'root=LABEL=virtlab-root rw console=ttyS0 net.ifnames=0 panic=1 systemd.show_status=1',
    '-no-reboot',
    '-drive',
    `file=${v.disk},if=virtio,format=qcow2,cache=unsafe,discard=unmap`,
    '-drive',
    `file=${v.seed},if=none,id=seed,format=raw,readonly=on`,
    '-device',
    'virtio-blk-pci,drive=seed,serial=virtlab-seed',
    ...v.nics.flatMap((n, i) => [
      '-netdev',
      `tap,id=n${i},ifname=${n.tap},script=no,downscript=no`,
      '-device',
      `virtio-net-pci,id=${vmNicId(i)},netdev=n${i},mac=${n.mac}`,
    ]),
    '-qmp',
    `tcp:127.0.0.1:${VM_QMP_PORT},server=on,wait=off`,
    ...(v.qmpSocket ? ['-qmp', `unix:${v.qmpSocket},server=on,wait=off`] : []),
    ...(v.incoming ? ['-incoming', `exec:cat ${quoteArg(v.incoming)}`] : []),
    '-chardev',
    `file,id=con,path=${v.console}`,
    '-serial',
    'chardev:con',
    '-pidfile',
    v.pidFile,
  ];
}
