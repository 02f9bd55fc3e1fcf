// The exact argv each hypervisor operation runs: shared by the plan (printed) and the run (executed).
import { normalize } from 'node:path';
import type { UndoOp } from '../host/state.ts';
import { type Guest, type ImageRef, qemuMacvtapName } from '../lab/model.ts';

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
        : g.bridge
          ? `bridge=${g.bridge},mac=${g.mac},model=virtio`
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
  // shell variables: expanded by the machine's shell, never by JavaScript
  const script = [
    'set -eu',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter
    'name=$1 lower=$2 mode=$3 mac=$4 disk=$5 log=$6 pidfile=$7 out=$8 mem=$9 accel=${10}',
    'ip link add link "$lower" name "$name" type macvtap mode "$mode"',
    'ip link set dev "$name" address "$mac" up',
    'idx=$(cat "/sys/class/net/$name/ifindex")',
    'want=$(cat "/sys/class/net/$name/macvtap/tap$idx/dev")',
    'have=$(stat -c "%t:%T" "/dev/tap$idx")',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansions
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

/** Stops a guest that bare QEMU runs (by its pid file) and removes its macvtap. */
export function stopBareQemu(guest: string): string[] {
  const script = 'kill "$(cat "$0")" 2>/dev/null; sleep 0.2; ip link delete "$1" 2>/dev/null; rm -f "$0"; true';
  return ['sh', '-c', script, qemuPidPath(guest), qemuMacvtapName(guest)];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const IFNAME = /^[a-z][a-z0-9._-]{0,14}$/;
const MARK = /^virtlab:[a-z0-9-]+:[0-9a-f]+$/;
const NIC = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

/** Paths virtlab itself writes on a machine: only these are ever removed by a teardown. */
export function isVirtlabPath(path: string): boolean {
  if (normalize(path) !== path || path.includes('\0')) return false;
  return (
    path.startsWith(`${WORK_DIR}/`) ||
    path.startsWith(`${IMAGE_DIR}/`) ||
    path.startsWith(`${CONSOLE_DIR}/`) ||
    /^\/run\/virtlab-[A-Za-z0-9_.-]+$/.test(path)
  );
}

/** The folders virtlab may have created for its uploads (removed only when empty). */
const isVirtlabFolder = (path: string) =>
  normalize(path) === path &&
  (path === WORK_DIR || path.startsWith(`${WORK_DIR}/`) || [IMAGE_DIR, '/var/lib/libvirt'].includes(path));

/** Removes a link only while it carries the run's alias (the check runs on the machine, in the same command). */
export function delMarkedLink(name: string, mark: string): string[] {
  return [
    'sh',
    '-c',
    '[ "$(cat "/sys/class/net/$0/ifalias" 2>/dev/null)" = "$1" ] && ip link delete "$0"; true',
    name,
    mark,
  ];
}

/** Removes an Open vSwitch bridge only while it carries the run's external id. */
export function delMarkedOvsBridge(name: string, mark: string): string[] {
  const script =
    '[ "$(ovs-vsctl get bridge "$0" external-ids:virtlab 2>/dev/null)" = "\\"$1\\"" ] && ovs-vsctl del-br "$0"; true';
  return ['sh', '-c', script, name, mark];
}

/** Removes a device's root qdisc only while it is netem (a device that is gone has nothing left to remove). */
export function delNetem(dev: string): string[] {
  const script = 'tc qdisc show dev "$0" root 2>/dev/null | grep -q "qdisc netem" && tc qdisc del dev "$0" root; true';
  return ['sh', '-c', script, dev];
}

/** The argv that undoes a recorded change, or why it is not one virtlab makes. */
export function undoArgv(op: UndoOp): { argv: string[] } | { refused: string } {
  switch (op.type) {
    case 'rmdir':
      return isVirtlabFolder(op.path)
        ? { argv: ['rmdir', '--', op.path] }
        : { refused: `${op.path} is not a folder virtlab creates` };
    case 'promisc':
      return NIC.test(op.nic) && ['on', 'off'].includes(op.state)
        ? { argv: promisc(op.nic, op.state) }
        : { refused: `"${op.nic}" is not an interface name` };
    case 'stop-qemu':
      return NAME.test(op.guest) ? { argv: stopBareQemu(op.guest) } : { refused: `"${op.guest}" is not a guest name` };
    case 'del-link':
      return IFNAME.test(op.name) && MARK.test(op.mark)
        ? { argv: delMarkedLink(op.name, op.mark) }
        : { refused: `"${op.name}" is not a link virtlab creates` };
    case 'ovs-del-br':
      return IFNAME.test(op.name) && MARK.test(op.mark)
        ? { argv: delMarkedOvsBridge(op.name, op.mark) }
        : { refused: `"${op.name}" is not a bridge virtlab creates` };
    case 'add-address':
      return IFNAME.test(op.dev) && /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(op.address)
        ? { argv: ['ip', 'addr', 'replace', op.address, 'dev', op.dev] }
        : { refused: `"${op.address}" on "${op.dev}" is not an address virtlab moves` };
    case 'del-netem':
      return IFNAME.test(op.dev) ? { argv: delNetem(op.dev) } : { refused: `"${op.dev}" is not an interface name` };
  }
}

export const isLibvirtName = (s: string) => NAME.test(s);
