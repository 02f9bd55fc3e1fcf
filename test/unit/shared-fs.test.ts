// A namespace machine's own folders are host folders: uploads into them are host copies, never out of the folder.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { hostPathOf, layout } from '../../src/providers/netns/machine-files.ts';
import { LocalExecutor } from '../../src/transport/local.ts';
import { SharedFsExecutor } from '../../src/transport/shared-fs.ts';
import { FakeExecutor } from '../helpers/fakes.ts';

test("paths of a machine's own folders map to its host folders; others (and /run, a tmpfs) do not", (t) => {
  const l = layout('/m');
  t.deepEqual(hostPathOf(l, true, '/var/lib/libvirt/images/cirros.qcow2'), {
    path: '/m/var-lib-libvirt/images/cirros.qcow2',
    root: '/m/var-lib-libvirt',
  });
  t.deepEqual(hostPathOf(l, false, '/root/lab/x.xml'), { path: '/m/root/lab/x.xml', root: '/m/root' });
  t.is(hostPathOf(l, false, '/var/lib/libvirt/images/x'), undefined, 'a peer has no libvirt folders of its own');
  t.is(hostPathOf(l, true, '/run/x'), undefined);
  t.is(hostPathOf(l, true, '/etc/passwd'), undefined);
  t.is(hostPathOf(l, true, '/root/../etc/passwd'), undefined);
});

test('an upload there is a host copy (skipped when unchanged); a symlink out of the folder is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-sharedfs-'));
  const l = layout(join(dir, 'm'));
  mkdirSync(l.root, { recursive: true });
  const src = join(dir, 'image');
  writeFileSync(src, 'qcow2 bytes');
  const sftp = new FakeExecutor('kvm-01', []);
  const x = new SharedFsExecutor(sftp, new LocalExecutor('host'), (p) => hostPathOf(l, true, p));
  const first = await x.upload(src, '/var/lib/libvirt/images/cirros.qcow2');
  t.false(first.skipped);
  t.is(readFileSync(join(l.varLibLibvirt, 'images', 'cirros.qcow2'), 'utf8'), 'qcow2 bytes');
  t.true((await x.upload(src, '/var/lib/libvirt/images/cirros.qcow2')).skipped);
  // a changed source is copied again: of the same size (compared by content) and of another size
  writeFileSync(src, 'QCOW2 BYTES');
  t.false((await x.upload(src, '/var/lib/libvirt/images/cirros.qcow2')).skipped);
  t.is(readFileSync(join(l.varLibLibvirt, 'images', 'cirros.qcow2'), 'utf8'), 'QCOW2 BYTES');
  writeFileSync(src, 'qcow2');
  t.false((await x.upload(src, '/var/lib/libvirt/images/cirros.qcow2')).skipped);
  t.is(readFileSync(join(l.varLibLibvirt, 'images', 'cirros.qcow2'), 'utf8'), 'qcow2');
  // elsewhere (a tmpfs of the machine's own): over SFTP, as before
  await x.upload(src, '/run/x');
  t.deepEqual(
    sftp.uploads.map((u) => u.remote),
    ['/run/x'],
  );
  // a folder inside that points out of it (a lab's command could make one): nothing is written through it
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  symlinkSync(outside, join(l.root, 'lab'));
  await t.throwsAsync(x.upload(src, '/root/lab/macvtap.xml'), { message: /leads out of the machine's own folder/ });
  // nor is a folder made through it
  await t.throwsAsync(x.upload(src, '/root/lab/kvm-macvtap/macvtap.xml'), { message: /leads out of/ });
  t.false(existsSync(join(outside, 'kvm-macvtap')), 'no folder was made outside');
  symlinkSync(join(dir, 'target'), join(l.root, 'file'));
  await t.throwsAsync(x.upload(src, '/root/file'), { message: /leads out of the machine's own folder/ });
});
