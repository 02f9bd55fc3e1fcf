// Pure logic of the vm provider: kernel choice, the QEMU command line, the namespace links, the seed, matrix waves.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type Target, waves } from '../../src/cli/matrix.ts';
import { readConfig, vmSlotCount } from '../../src/host/config.ts';
import { parsePackages } from '../../src/hypervisor/parse/packages.ts';
import { createProvider } from '../../src/providers/index.ts';
import { hostAccel } from '../../src/providers/netns/vm/accel.ts';
import { imageKernels, imageSuite, SUITES, suiteOf } from '../../src/providers/netns/vm/image.ts';
import {
  bzImageVersion,
  kernelFileProblem,
  kernelFor,
  kernelRequest,
  parseKernels,
  pickKernel,
} from '../../src/providers/netns/vm/kernels.ts';
import { mgmtMac, vmLinks } from '../../src/providers/netns/vm/machine.ts';
import { qemuArgv } from '../../src/providers/netns/vm/qemu.ts';
import { nicsFile } from '../../src/providers/netns/vm/seed.ts';

const TSV =
  '6.1.0-56-cloud-amd64\tlinux-image-6.1.0-56-cloud-amd64\tlinux-image-cloud-amd64\n6.12.117+deb12-cloud-amd64\tlinux-image-6.12.117+deb12-cloud-amd64\tlinux-image-6.12-cloud-amd64\n';

test('a kernel is found by package, meta package, version or version prefix', (t) => {
  const ks = parseKernels(TSV);
  t.is(ks.length, 2);
  t.is(pickKernel(ks, 'linux-image-cloud-amd64')?.version, '6.1.0-56-cloud-amd64');
  t.is(pickKernel(ks, 'linux-image-6.12-cloud-amd64')?.version, '6.12.117+deb12-cloud-amd64');
  t.is(pickKernel(ks, 'linux-image-6.1.0-56-cloud-amd64')?.version, '6.1.0-56-cloud-amd64');
  t.is(pickKernel(ks, '6.12.117+deb12-cloud-amd64')?.package, 'linux-image-6.12.117+deb12-cloud-amd64');
  t.is(pickKernel(ks, '6.12')?.version, '6.12.117+deb12-cloud-amd64');
  t.is(pickKernel(ks, '6.1')?.version, '6.1.0-56-cloud-amd64');
  t.is(pickKernel(ks, '4.19'), undefined);
  t.is(pickKernel(ks, '6'), undefined, 'a bare major number is ambiguous, not a prefix match');
});

const DEFAULT_KERNELS = ['linux-image-cloud-amd64', 'linux-image-6.12-cloud-amd64'];

test('the image holds the default kernels plus every requested package, and nothing for version requests', (t) => {
  t.deepEqual(imageKernels([]), DEFAULT_KERNELS);
  t.deepEqual(imageKernels([], 'trixie'), ['linux-image-cloud-amd64'], "trixie's own kernel (6.12) is its default");
  t.deepEqual(imageKernels(['linux-image-6.12-cloud-amd64'], 'bookworm-backports'), [
    'linux-image-cloud-amd64',
    'linux-image-6.12-cloud-amd64',
  ]);
  t.deepEqual(imageKernels(['6.12', 'linux-image-cloud-amd64']), DEFAULT_KERNELS);
  t.deepEqual(imageKernels(['linux-image-6.1.0-50-cloud-amd64', 'linux-image-6.1.0-50-cloud-amd64']), [
    ...DEFAULT_KERNELS,
    'linux-image-6.1.0-50-cloud-amd64',
  ]);
});

test('a kernel .deb of your own: taken by its absolute path, added to the image; a missing file is refused', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-kdeb-'));
  writeFileSync(join(dir, 'linux-image-6.13.0-mine_amd64.deb'), 'not read here');
  t.is(kernelRequest('linux-image-6.12-cloud-amd64'), 'linux-image-6.12-cloud-amd64');
  t.is(kernelRequest('linux-image-6.13.0-mine_amd64.deb', dir), join(dir, 'linux-image-6.13.0-mine_amd64.deb'));
  t.deepEqual(imageKernels([join(dir, 'linux-image-6.13.0-mine_amd64.deb')], 'trixie'), [
    'linux-image-cloud-amd64',
    join(dir, 'linux-image-6.13.0-mine_amd64.deb'),
  ]);
  t.is(t.throws(() => kernelRequest('nosuch.deb', dir))?.message, `no kernel package file ${join(dir, 'nosuch.deb')}`);
  // a provider is made with a kernel file that is gone (down of a lab whose .deb was deleted since): preflight says so
  const gone = join(dir, 'gone.deb');
  t.notThrows(() => createProvider('vm', { kernel: gone }));
  t.is(kernelFileProblem(gone)?.what, `no kernel package file ${gone}`);
  t.is(kernelFileProblem('linux-image-6.12-cloud-amd64'), undefined);
  writeFileSync(join(dir, 'a b.deb'), '');
  t.regex(t.throws(() => kernelRequest('a b.deb', dir))?.message ?? '', /only letters, digits/);
  // a .deb's kernel is found by the path that asked for it (the build script lists it among the requests)
  const ks = parseKernels(`6.13.0-mine\tlinux-image-6.13.0-mine\t${join(dir, 'linux-image-6.13.0-mine_amd64.deb')}\n`);
  t.is(pickKernel(ks, join(dir, 'linux-image-6.13.0-mine_amd64.deb'))?.version, '6.13.0-mine');
});

/** The first bytes of a bzImage: the setup header's magic and the offset of its version string. */
function bzImageHead(version: string): Buffer {
  const b = Buffer.alloc(0x400);
  b.write('HdrS', 0x202, 'latin1');
  b.writeUInt16LE(0x300 - 0x200, 0x20e);
  b.write(`${version} (builder@host) #1 SMP PREEMPT_DYNAMIC\0`, 0x300, 'latin1');
  return b;
}

test("a bzImage of your own: its version read from its header; it boots with the image's modules of that version only", (t) => {
  t.is(bzImageVersion(bzImageHead('6.12.117+deb12-cloud-amd64')), '6.12.117+deb12-cloud-amd64');
  t.is(bzImageVersion(Buffer.from('not a kernel')), undefined);
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-bz-'));
  writeFileSync(join(dir, 'bzImage'), bzImageHead('6.12.117+deb12-cloud-amd64'));
  writeFileSync(join(dir, 'other'), bzImageHead('6.13.0-rc1'));
  writeFileSync(join(dir, 'notes.txt'), 'hello');
  t.is(kernelRequest('./bzImage', dir), join(dir, 'bzImage'));
  t.regex(t.throws(() => kernelRequest('./notes.txt', dir))?.message ?? '', /is not a Linux kernel image/);
  const ks = parseKernels(TSV);
  t.is(kernelFor(ks, join(dir, 'bzImage')).version, '6.12.117+deb12-cloud-amd64');
  const e = t.throws(() => kernelFor(ks, join(dir, 'other')));
  t.regex(e?.message ?? '', /holds no modules for 6\.13\.0-rc1/);
  t.regex((e as { hint?: string }).hint ?? '', /make bindeb-pkg/);
  // a bzImage adds nothing to the image
  t.deepEqual(imageKernels([join(dir, 'bzImage')]), DEFAULT_KERNELS);
});

test('an image is built from a named suite; an unknown one is refused with the list', (t) => {
  t.is(suiteOf(undefined), 'bookworm');
  t.is(suiteOf('trixie'), 'trixie');
  t.is(suiteOf('bookworm-backports'), 'bookworm-backports');
  const e = t.throws(() => suiteOf('sid'));
  t.is(e?.message, 'no machine image "sid"');
  t.regex(
    (e as { hint?: string }).hint ?? '',
    /images: bookworm \(Debian 12: libvirt 9\.0.*\), bookworm-backports .*, trixie \(Debian 13: libvirt 11\.3/,
  );
  t.throws(() => suiteOf('constructor'), undefined, 'an inherited property is not a suite');
  t.is(Object.keys(SUITES).length, 3);
  // the inputs file of the build script names the suite; builds from before suites were named are bookworm
  t.is(imageSuite('script=0123456789abcdef suite=trixie kernels=linux-image-cloud-amd64 '), 'trixie');
  t.is(imageSuite('script=0123456789abcdef kernels=linux-image-cloud-amd64 '), 'bookworm');
  t.deepEqual(parsePackages('libvirt-daemon\t11.3.0-3+deb13u3\nqemu-system-x86\t1:10.0.13+ds-0+deb13u1\n\nbroken\n'), {
    'libvirt-daemon': '11.3.0-3+deb13u3',
    'qemu-system-x86': '1:10.0.13+ds-0+deb13u1',
  });
});

test('QEMU: TCG with -cpu max (SVM for KVM inside) unless KVM is there; NICs in order with their MACs and ids; QMP on loopback; seed by serial', (t) => {
  const spec = {
    name: 'kvm-01',
    ram: 2048,
    vcpu: 2,
    accel: 'tcg' as const,
    kernel: '/i/vmlinuz',
    initrd: '/i/initrd',
    disk: '/d/disk.qcow2',
    seed: '/d/seed.tar',
    console: '/d/console.log',
    pidFile: '/d/qemu.pid',
    nics: [
      { tap: 'vmtap0', mac: '02:76:6c:00:00:01' },
      { tap: 'vmtap1', mac: '52:54:00:aa:bb:cc' },
    ],
  };
  const a = qemuArgv(spec);
  const after = (flag: string) => a[a.indexOf(flag) + 1];
  t.is(after('-accel'), 'tcg,thread=multi');
  t.is(after('-cpu'), 'max');
  t.is(after('-m'), '2048');
  t.is(after('-smp'), '2');
  t.regex(after('-append')!, /root=LABEL=virtlab-root .*console=ttyS0 .*net\.ifnames=0/);
  t.true(a.includes('-no-reboot'));
  t.deepEqual(
    a.filter((x) => x.startsWith('virtio-net-pci')),
    [
      'virtio-net-pci,id=nic0,netdev=n0,mac=02:76:6c:00:00:01',
      'virtio-net-pci,id=nic1,netdev=n1,mac=52:54:00:aa:bb:cc',
    ],
  );
  // QMP on the namespace's own loopback, for the switch agent (a NIC's promiscuous flag)
  t.is(after('-qmp'), 'tcp:127.0.0.1:4444,server=on,wait=off');
  t.deepEqual(
    a.filter((x) => x.startsWith('tap,')),
    ['tap,id=n0,ifname=vmtap0,script=no,downscript=no', 'tap,id=n1,ifname=vmtap1,script=no,downscript=no'],
  );
  t.true(a.includes('virtio-blk-pci,drive=seed,serial=virtlab-seed'));
  const k = qemuArgv({ ...spec, accel: 'kvm' });
  t.is(k[k.indexOf('-accel') + 1], 'kvm');
  t.is(k[k.indexOf('-cpu') + 1], 'host');
});

test('each NIC veth gets a bridge with its tap; the management veth is NIC 0', (t) => {
  const l = vmLinks(['mgmt0', 'eth1']);
  t.true(l.includes('link add vmbr0 type bridge ageing_time 0'), 'a wire: it learns nothing');
  t.true(l.includes('link set mgmt0 master vmbr0'));
  t.true(l.includes('tuntap add dev vmtap0 mode tap'));
  t.true(l.includes('link set vmtap0 master vmbr0'));
  t.true(l.includes('link set eth1 master vmbr1'));
  t.true(l.includes('link set vmtap1 master vmbr1'));
  t.true(l.indexOf('tuntap add dev vmtap1 mode tap') < l.indexOf('link set vmtap1 up'));
});

test('the seed lists NICs as MAC, name and address; the management MAC is stable and locally administered', (t) => {
  t.is(
    nicsFile([
      { mac: '02:76:6c:01:02:03', name: 'mgmt0', address: '100.127.0.2/30' },
      { mac: '52:54:00:aa:bb:cc', name: 'eth1' },
    ]),
    '02:76:6c:01:02:03 mgmt0 100.127.0.2/30\n52:54:00:aa:bb:cc eth1 -\n',
  );
  t.is(mgmtMac('vl-a-1-m-kvm-01'), mgmtMac('vl-a-1-m-kvm-01'));
  t.not(mgmtMac('vl-a-1-m-kvm-01'), mgmtMac('vl-a-1-m-kvm-02'));
  t.regex(mgmtMac('x'), /^02:76:6c(:[0-9a-f]{2}){3}$/);
});

test('VIRTLAB_VM_ACCEL overrides the accelerator', (t) => {
  t.is(hostAccel(readConfig({ VIRTLAB_VM_ACCEL: 'tcg' })).accel, 'tcg');
  t.is(hostAccel(readConfig({ VIRTLAB_VM_ACCEL: 'kvm' })).accel, 'kvm');
  t.regex(hostAccel(readConfig({})).why, /\S/);
});

test('matrix waves: VM targets one at a time on a small host, more with more cores; shared hosts never together', (t) => {
  const vm = (name: string): Target => ({ name, provider: 'vm', options: {} });
  const ns = (name: string): Target => ({ name, provider: 'netns', options: {} });
  const names = (w: Target[][]) => w.map((x) => x.map((y) => y.name));
  t.deepEqual(names(waves([vm('a'), vm('b'), ns('c')], 2, () => [])), [['a', 'c'], ['b']]);
  t.deepEqual(names(waves([vm('a'), vm('b')], 8, () => [])), [['a', 'b']]);
  const ssh = (name: string): Target => ({ name, provider: 'ssh', options: { inventory: name } });
  t.deepEqual(names(waves([ssh('x'), ssh('y')], 8, (_tg) => ['10.0.0.1:22'])), [['x'], ['y']]);
});

test('VM slots: one lab of VMs per 4 cores, at least one; VIRTLAB_VM_SLOTS overrides', async (t) => {
  const slots = (env: Record<string, string>, cores: number) => vmSlotCount(readConfig(env).vmSlots, cores);
  t.is(slots({}, 2), 1);
  t.is(slots({}, 8), 2);
  t.is(slots({ VIRTLAB_VM_SLOTS: '3' }, 2), 3);
  t.is(slots({ VIRTLAB_VM_SLOTS: 'x' }, 2), 1);
});
