// Playbook modules against a real local executor and a local HTTP server: ok/changed/failed and idempotence.

import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { installedOf } from '../../src/runner/modules.ts';
import { type ModuleContext, runModule } from '../../src/runner/provision.ts';
import type { RunOptions } from '../../src/transport/executor.ts';
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

/** The local executor, counting its commands, with a PATH that can put fakes of host tools first. */
function counting(c: ModuleContext, path?: string): string[][] {
  const calls: string[][] = [];
  const inner = c.x;
  c.x = Object.assign(Object.create(inner), {
    run: (argv: string[], o?: RunOptions) => {
      calls.push(argv);
      return inner.run(argv, path ? { ...o, env: { ...o?.env, PATH: `${path}:${process.env.PATH}` } } : o);
    },
  });
  return calls;
}

test('file: an existing folder is asked about once (kind, mode and owners), a new one made with its mode', async (t) => {
  const c = ctx();
  const calls = counting(c);
  const args = { path: join(c.dir, 'new'), state: 'directory', mode: '0700' };
  t.is((await runModule({ name: 'f', module: 'file', user: 'root', where: 'x:1', args }, c)).status, 'changed');
  t.is(statSync(args.path).mode & 0o777, 0o700);
  t.deepEqual(
    calls.map((x) => x[0]),
    ['stat', 'mkdir'],
  );
  calls.length = 0;
  t.is((await runModule({ name: 'f', module: 'file', user: 'root', where: 'x:1', args }, c)).status, 'ok');
  t.is(calls.length, 1);
  // another mode on the existing folder: changed with one chmod, after the same single question
  calls.length = 0;
  const wider = { ...args, mode: '0755' };
  t.is((await runModule({ name: 'f', module: 'file', user: 'root', where: 'x:1', args: wider }, c)).status, 'changed');
  t.is(statSync(args.path).mode & 0o777, 0o755);
  t.deepEqual(
    calls.map((x) => x[0]),
    ['stat', 'chmod'],
  );
  // a file where a folder is wanted fails, and is left as it is
  writeFileSync(join(c.dir, 'plain'), 'x');
  const onFile = { path: join(c.dir, 'plain'), state: 'directory' };
  await t.throwsAsync(runModule({ name: 'f', module: 'file', user: 'root', where: 'x:1', args: onFile }, c), {
    message: /File exists/,
  });
  t.is(readFileSync(join(c.dir, 'plain'), 'utf8'), 'x');
});

test('sysctl: read and written in one round trip; unknown, unchanged and refused host values', async (t) => {
  const c = ctx();
  // a sysctl of its own on PATH: the host's values are never read or written by this test
  const bin = join(c.dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(c.dir, 'values'), 'net.ipv4.ip_forward=0\nkernel.pid_max=4194304\n');
  writeFileSync(
    join(bin, 'sysctl'),
    `#!/bin/sh
f=${c.dir}/values
if [ "$1" = -n ]; then grep -q "^$2=" "$f" || { echo "sysctl: cannot stat /proc/sys/$2" >&2; exit 255; }; sed -n "s/^$2=//p" "$f"; exit 0; fi
[ "$1" = -q ] && [ "$2" = -w ] || exit 2
k=\${3%%=*}; sed -i "s/^$k=.*/$3/" "$f"; echo "$3" >> ${c.dir}/writes
`,
    { mode: 0o755 },
  );
  const calls = counting(c, bin);
  const task = (name: string, value: string) => ({
    name: 's',
    module: 'sysctl' as const,
    user: 'root',
    where: 'x:1',
    args: { name, value },
  });
  const r = await runModule(task('net.ipv4.ip_forward', '1'), c);
  t.deepEqual([r.status, r.detail], ['changed', '0 -> 1']);
  t.is(calls.length, 1);
  t.regex(readFileSync(join(c.dir, 'values'), 'utf8'), /^net\.ipv4\.ip_forward=1$/m);
  t.is((await runModule(task('net.ipv4.ip_forward', '1'), c)).status, 'ok');
  const unknown = await runModule(task('net.no.such', '1'), c);
  t.deepEqual([unknown.status, unknown.detail], ['failed', 'unknown sysctl net.no.such']);
  // a namespace machine's kernel.* is the control host's: never written
  const host = await runModule(task('kernel.pid_max', '32768'), c);
  t.is(host.status, 'failed');
  t.regex(host.detail!, /refused: kernel\.pid_max is the control host's/);
  t.deepEqual(readFileSync(join(c.dir, 'writes'), 'utf8').trim().split('\n'), ['net.ipv4.ip_forward=1']);
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
  t.regex(
    off.detail!,
    /cannot download http:\/\/127\.0\.0\.1:9\/none\.img: connect ECONNREFUSED .*; offline\? put the file at/,
  );
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
