// Playbook modules against a real local executor and a local HTTP server: ok/changed/failed and idempotence.

import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { installedOf } from '../../src/runner/modules.ts';
import { type ModuleContext, runModule } from '../../src/runner/provision.ts';
import { LocalExecutor } from '../../src/transport/local.ts';

const ctx = (): ModuleContext & { dir: string } => {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-mod-'));
  return {
    dir,
    x: new LocalExecutor('local'),
    sharedFilesystem: true,
    playbookDir: dir,
    downloads: join(dir, 'downloads'),
  };
};

test('apt on a shared filesystem: present packages are ok, a missing one fails naming the package', async (t) => {
  const c = ctx();
  t.is(
    (await runModule({ name: 'a', module: 'apt', user: 'root', where: 'x:1', args: { name: ['iproute2'] } }, c)).status,
    'ok',
  );
  const r = await runModule(
    { name: 'b', module: 'apt', user: 'root', where: 'x:1', args: { name: ['iproute2', 'virtlab-no-such-package'] } },
    c,
  );
  t.is(r.status, 'failed');
  t.regex(r.detail!, /apt-get install -y virtlab-no-such-package$/);
});

test('file: directory and mode, then nothing to change', async (t) => {
  const c = ctx();
  const args = { path: join(c.dir, 'a/b'), state: 'directory', mode: '0750' };
  t.is((await runModule({ name: 'f', module: 'file', user: 'root', where: 'x:1', args }, c)).status, 'changed');
  t.is(statSync(args.path).mode & 0o777, 0o750);
  t.is((await runModule({ name: 'f', module: 'file', user: 'root', where: 'x:1', args }, c)).status, 'ok');
});

test('copy: changed, then ok; content is supported', async (t) => {
  const c = ctx();
  writeFileSync(join(c.dir, 'src.txt'), 'hello');
  const args = { src: 'src.txt', dest: join(c.dir, 'out.txt') };
  t.is((await runModule({ name: 'c', module: 'copy', user: 'root', where: 'x:1', args }, c)).status, 'changed');
  t.is((await runModule({ name: 'c', module: 'copy', user: 'root', where: 'x:1', args }, c)).status, 'ok');
  t.is(readFileSync(args.dest, 'utf8'), 'hello');
  t.is(
    (
      await runModule(
        {
          name: 'c',
          module: 'copy',
          user: 'root',
          where: 'x:1',
          args: { content: 'x=1\n', dest: join(c.dir, 'conf') },
        },
        c,
      )
    ).status,
    'changed',
  );
});

test('get_url: downloads once into the cache, verifies the checksum, fails clearly offline', async (t) => {
  const c = ctx();
  const body = Buffer.from('payload');
  let hits = 0;
  const server = createServer((_q, res) => {
    hits++;
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as any).port}/files/img.bin`;
  try {
    const sum = createHash('sha256').update(body).digest('hex');
    const args = { url, dest: join(c.dir, 'img.bin'), checksum: `sha256:${sum}` };
    t.is((await runModule({ name: 'g', module: 'get_url', user: 'root', where: 'x:1', args }, c)).status, 'changed');
    t.is((await runModule({ name: 'g', module: 'get_url', user: 'root', where: 'x:1', args }, c)).status, 'ok');
    t.is(hits, 1, 'the second run uses the cache');
    const bad = await runModule(
      {
        name: 'g',
        module: 'get_url',
        user: 'root',
        where: 'x:1',
        args: { url: `${url}?x`, dest: join(c.dir, 'x'), checksum: 'sha256:00' },
      },
      c,
    );
    t.is(bad.status, 'failed');
    t.regex(bad.detail!, /checksum mismatch/);
  } finally {
    server.close();
  }
  const off = await runModule(
    {
      name: 'g',
      module: 'get_url',
      user: 'root',
      where: 'x:1',
      args: { url: 'http://127.0.0.1:9/none.img', dest: join(c.dir, 'none') },
    },
    c,
  );
  t.is(off.status, 'failed');
  t.regex(off.detail!, /cannot download http:\/\/127\.0\.0\.1:9\/none\.img .*put the file at/);
});

test('command and shell', async (t) => {
  const c = ctx();
  t.is(
    (
      await runModule(
        { name: 'c', module: 'command', user: 'root', where: 'x:1', args: { cmd: `touch ${join(c.dir, 'made')}` } },
        c,
      )
    ).status,
    'changed',
  );
  const r = await runModule(
    { name: 's', module: 'shell', user: 'root', where: 'x:1', args: { cmd: 'echo nope >&2; exit 4' } },
    c,
  );
  t.is(r.status, 'failed');
  t.regex(r.detail!, /exit 4: nope/);
});

test('apt asks dpkg-query once for all packages; removed-but-configured and unknown ones are not installed', (t) => {
  const out = [
    'iproute2\tinstall ok installed',
    'libc6\tinstall ok installed',
    'nftables\tdeinstall ok config-files',
    'qemu-system-x86\tinstall ok installed',
    '',
  ].join('\n');
  t.deepEqual(installedOf(out, ['iproute2', 'libc6:amd64', 'nftables', 'virtlab-no-such-package', 'qemu-system-x86']), [
    'iproute2',
    'libc6:amd64',
    'qemu-system-x86',
  ]);
  t.deepEqual(installedOf('', ['iproute2']), []);
});
