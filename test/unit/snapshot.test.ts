// VM snapshots as data: what a key depends on, what counts as a whole snapshot, what pruning removes, and the QEMU
// command line of a restore. (Saving and restoring a real VM: test/vm/snapshot.test.ts.)
import { mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { Home } from '../../src/host/home.ts';
import type { VmState } from '../../src/providers/netns/state.ts';
import { qemuArgv } from '../../src/providers/netns/vm/qemu.ts';
import {
  findSnapshot,
  listSnapshots,
  pruneSnapshots,
  removeSnapshots,
  snapshotInputs,
  snapshotKey,
  snapshotsDir,
} from '../../src/providers/netns/vm/snapshot.ts';

function fixture() {
  const root = mkdtempSync(join(tmpdir(), 'virtlab-unit-snap-'));
  const image = join(root, 'image');
  mkdirSync(image);
  writeFileSync(join(image, 'disk.qcow2'), 'disk');
  const home = { root, state: join(root, 'state'), runs: join(root, 'runs'), cache: root, images: root } as Home;
  const vm: VmState = { image, kernel: '6.1.0-57-cloud-amd64', kernelPackage: 'p', accel: 'tcg', console: 'c' };
  const shape = { role: 'hypervisor', ram: 2048, vcpu: 2, nics: 1 };
  return { root, image, home, vm, shape };
}

/** A snapshot folder as saveSnapshot leaves it. */
function writeSnapshot(home: Home, inputs: ReturnType<typeof snapshotInputs>, files = ['state', 'disk.qcow2', 'key']) {
  const key = snapshotKey(inputs);
  const dir = join(snapshotsDir(home), key);
  mkdirSync(dir, { recursive: true });
  for (const f of files) writeFileSync(join(dir, f), f);
  const meta = {
    key,
    created: new Date().toISOString(),
    format: inputs.format,
    image: inputs.image,
    qemu: inputs.qemu,
    kernel: inputs.kernel,
    shape: inputs.shape,
    linkLocal: 'fe80::1',
    macs: ['02:00:00:00:00:01'],
    hostKey: 'AAAA',
    bytes: 3,
  };
  writeFileSync(join(dir, 'snapshot.json'), JSON.stringify(meta));
  return { key, dir };
}

test('a snapshot key changes with the image, kernel, accelerator and machine shape, and only with them', (t) => {
  const { root, image, vm, shape } = fixture();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const key = snapshotKey(snapshotInputs(vm, shape));
  t.regex(key, /^[0-9a-f]{16}$/);
  t.is(snapshotKey(snapshotInputs({ ...vm, console: 'elsewhere' }, { ...shape })), key, 'the console file is per run');
  const others = [
    snapshotInputs({ ...vm, kernel: '6.12.57+deb12-cloud-amd64' }, shape),
    snapshotInputs({ ...vm, accel: 'kvm' }, shape),
    snapshotInputs(vm, { ...shape, ram: 1024 }),
    snapshotInputs(vm, { ...shape, vcpu: 1 }),
    snapshotInputs(vm, { ...shape, nics: 2 }),
    snapshotInputs(vm, { ...shape, role: 'peer' }),
  ].map(snapshotKey);
  t.is(new Set([key, ...others]).size, 7);
  // a rebuilt image (same path, new file) is another image
  utimesSync(join(image, 'disk.qcow2'), new Date(), new Date(Date.now() + 5000));
  t.not(snapshotKey(snapshotInputs(vm, shape)), key);
});

test('only a whole snapshot of this key and format is found', (t) => {
  const { root, home, vm, shape } = fixture();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const inputs = snapshotInputs(vm, shape);
  t.is(findSnapshot(home, snapshotKey(inputs)), undefined);
  const { key, dir } = writeSnapshot(home, inputs, ['disk.qcow2', 'key']);
  t.is(findSnapshot(home, key), undefined, 'no saved RAM: not whole');
  writeFileSync(join(dir, 'state'), 'state');
  t.like(findSnapshot(home, key), { key, dir, linkLocal: 'fe80::1', kernel: vm.kernel });
  const older = writeSnapshot(home, { ...inputs, format: 0 });
  t.is(findSnapshot(home, older.key), undefined, 'an older format is never used');
  t.deepEqual(
    listSnapshots(home).map((s) => s.key),
    [key],
  );
});

test('pruning removes snapshots of a rebuilt image, another QEMU or format, and copies of a dead save', (t) => {
  const { root, image, home, vm, shape } = fixture();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const good = writeSnapshot(home, snapshotInputs(vm, shape));
  const otherQemu = writeSnapshot(home, { ...snapshotInputs(vm, { ...shape, ram: 512 }), qemu: '/usr/bin/x:1:2:3' });
  const dead = join(snapshotsDir(home), `${good.key}.999999999`);
  mkdirSync(dead);
  const live = join(snapshotsDir(home), `${good.key}.${process.pid}`);
  mkdirSync(live);
  t.deepEqual(pruneSnapshots(home).sort(), [otherQemu.dir, dead].sort());
  t.truthy(findSnapshot(home, good.key));
  // the image is rebuilt: its snapshot can never be used again
  writeFileSync(join(image, 'disk.qcow2'), 'rebuilt disk');
  t.deepEqual(pruneSnapshots(home), [good.dir]);
  t.deepEqual(listSnapshots(home), []);
});

test('prune --snapshots removes every snapshot but the ones a VM that is up started from, and a save under way', (t) => {
  const { root, home, vm, shape } = fixture();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const used = writeSnapshot(home, snapshotInputs(vm, shape));
  const other = writeSnapshot(home, snapshotInputs(vm, { ...shape, ram: 4096 }));
  const dead = join(snapshotsDir(home), `${other.key}.999999999`);
  mkdirSync(dead);
  writeFileSync(join(dead, 'state'), 'half a state');
  const saving = join(snapshotsDir(home), `${other.key}.${process.pid}`);
  mkdirSync(saving);
  const meta = statSync(join(other.dir, 'snapshot.json')).size;
  const r = removeSnapshots(home, new Set([used.key]));
  t.deepEqual(r.removed.sort(), [other.dir, dead].sort());
  t.deepEqual(r.kept.sort(), [used.dir, saving].sort());
  // state + disk.qcow2 + key + snapshot.json of the removed one, and the cut-short state
  t.is(r.bytes, 'state'.length + 'disk.qcow2'.length + 'key'.length + meta + 'half a state'.length);
  t.deepEqual(
    listSnapshots(home).map((x) => x.key),
    [used.key],
  );
  // nothing up any more: the used one goes too; a save under way (its process lives) never does
  const again = removeSnapshots(home, new Set());
  t.deepEqual(again.removed, [used.dir]);
  t.deepEqual(again.kept, [saving]);
});

test('a restore starts QEMU from the saved state, with a monitor of the host on a unix socket', (t) => {
  const spec = {
    name: 'kvm-01',
    ram: 2048,
    vcpu: 2,
    accel: 'tcg' as const,
    kernel: 'k',
    initrd: 'i',
    disk: 'd',
    seed: 's',
    console: 'c',
    pidFile: 'p',
    nics: [{ tap: 'vmtap0', mac: '02:00:00:00:00:01' }],
  };
  const cold = qemuArgv(spec);
  t.false(cold.includes('-incoming'));
  const a = qemuArgv({ ...spec, qmpSocket: '/run/x/qmp.sock', incoming: "/var/lib/it's here/state" });
  t.is(a[a.indexOf('-incoming') + 1], `exec:cat '/var/lib/it'\\''s here/state'`);
  t.true(a.includes('unix:/run/x/qmp.sock,server=on,wait=off'));
  t.true(a.includes('tcp:127.0.0.1:4444,server=on,wait=off'), "the switch agent's monitor stays");
});
