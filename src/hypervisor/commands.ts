// The exact argv each hypervisor operation runs: shared by the plan (printed) and the run (executed).
import type { Guest, ImageRef } from '../lab/model.ts';

export const WORK_DIR = '/root/lab';
export const IMAGE_DIR = '/var/lib/libvirt/images';
export const CONSOLE_DIR = '/var/log/libvirt/qemu';

export const labFilePath = (rel: string) => `${WORK_DIR}/${rel}`;
export const imagePath = (img: ImageRef) => `${IMAGE_DIR}/${img.name}${img.version ? `-${img.version}` : ''}.qcow2`;
export const kernelPath = (img: ImageRef) => `${IMAGE_DIR}/${img.name}${img.version ? `-${img.version}` : ''}-vmlinuz`;
export const initrdPath = (img: ImageRef) =>
  `${IMAGE_DIR}/${img.name}${img.version ? `-${img.version}` : ''}-initrd.gz`;
export const guestDiskPath = (g: Guest) => `${IMAGE_DIR}/${g.name}-disk.qcow2`;
export const consoleLogPath = (guest: string) => `${CONSOLE_DIR}/${guest}-console.log`;

export const netDefine = (xmlRemote: string) => ['virsh', 'net-define', xmlRemote];
export const netStart = (network: string) => ['virsh', 'net-start', network];
export const promisc = (nic: string, state: 'on' | 'off') => ['ip', 'link', 'set', 'dev', nic, 'promisc', state];
export const guestDisk = (g: Guest) => [
  'qemu-img',
  'create',
  '-q',
  '-f',
  'qcow2',
  '-F',
  'qcow2',
  '-b',
  imagePath(g.image),
  guestDiskPath(g),
];

/** virt-install as in the original lab, with TCG (`--virt-type qemu`) and the serial console logged to a file. */
export function virtInstall(g: Guest, virtType: 'qemu' | 'kvm' = 'qemu'): string[] {
  return [
    'virt-install',
    '--name',
    g.name,
    '--memory',
    String(g.ram),
    '--vcpus',
    String(g.vcpus),
    '--virt-type',
    virtType,
    '--import',
    '--osinfo',
    'generic',
    '--disk',
    `path=${guestDiskPath(g)},format=qcow2,bus=virtio`,
    '--network',
    g.tap
      ? `type=ethernet,target.dev=${g.tap},mac=${g.mac},model=virtio`
      : g.direct
        ? `type=direct,source=${g.direct.dev},source.mode=${g.direct.mode},mac=${g.mac},model=virtio`
        : `network=${g.network},mac=${g.mac},model=virtio`,
    // a static address travels on the kernel command line: boot the image's kernel directly
    ...(g.staticIp
      ? [
          '--boot',
          `kernel=${kernelPath(g.image)},initrd=${initrdPath(g.image)},kernel_args=console=ttyS0 loglevel=3 virtlab.ip=${g.staticIp.address}${g.staticIp.gateway ? ` virtlab.gw=${g.staticIp.gateway}` : ''}`,
        ]
      : []),
    '--graphics',
    'none',
    '--serial',
    `pty,log.file=${consoleLogPath(g.name)},log.append=off`,
    '--noautoconsole',
  ];
}

export const attachInterface = (guest: string, network: string, mac: string) => [
  'virsh',
  'attach-interface',
  guest,
  'network',
  network,
  '--mac',
  mac,
  '--model',
  'virtio',
  '--live',
];
export const domiflist = (guest: string) => ['virsh', 'domiflist', guest];
export const destroyGuest = (guest: string) => ['virsh', 'destroy', guest];

export const qemuOutPath = (guest: string) => `${CONSOLE_DIR}/${guest}-qemu.out`;
export const qemuPidPath = (guest: string) => `/run/virtlab-qemu-${guest}.pid`;

/**
 * Bare QEMU on a macvtap, the seed's way: create the macvtap, find its character device from sysfs (never guess
 * /dev/tapN), check the node is that device, and hand it to QEMU as fd 3. Lab values reach the script only as
 * positional parameters, never as script text.
 */
export function qemuMacvtap(g: Guest, macvtap: string, accel: 'tcg' | 'kvm' = 'tcg'): string[] {
  const script = [
    'set -eu',
    'name=$1 lower=$2 mode=$3 mac=$4 disk=$5 log=$6 pidfile=$7 out=$8 mem=$9 accel=${10}',
    'ip link add link "$lower" name "$name" type macvtap mode "$mode"',
    'ip link set dev "$name" address "$mac" up',
    'idx=$(cat "/sys/class/net/$name/ifindex")',
    'want=$(cat "/sys/class/net/$name/macvtap/tap$idx/dev")',
    'have=$(stat -c "%t:%T" "/dev/tap$idx")',
    '[ "$(printf "%d:%d" "0x${have%:*}" "0x${have#*:}")" = "$want" ] || { echo "/dev/tap$idx is not $name ($have, want $want)" >&2; exit 3; }',
    'exec 3<>"/dev/tap$idx"',
    'exec qemu-system-x86_64 -name "$name" -machine accel="$accel" -m "$mem" -display none -daemonize -pidfile "$pidfile" ' +
      '-drive file="$disk",if=virtio,format=qcow2 -netdev tap,fd=3,id=n0 -device virtio-net-pci,netdev=n0,mac="$mac" ' +
      '-chardev pty,id=s0,logfile="$log" -serial chardev:s0 2>"$out"',
  ].join('\n');
  return [
    'sh',
    '-c',
    script,
    'sh',
    macvtap,
    g.direct!.dev,
    g.direct!.mode,
    g.mac,
    guestDiskPath(g),
    consoleLogPath(g.name),
    qemuPidPath(g.name),
    qemuOutPath(g.name),
    String(g.ram),
    accel,
  ];
}
