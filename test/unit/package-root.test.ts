// Files of the installation are named from the package root, found from one module: the same from the sources,
// from dist/ and from the bundle (dist/virtlab.cjs), whichever bin/virtlab.js runs.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'ava';
import { COMPILED, PACKAGE_ROOT, packagePath } from '../../src/host/package-root.ts';

const BIN = resolve('bin/virtlab.js');

test('the package root is the folder of virtlab package.json, and its files are named from it', (t) => {
  t.is(PACKAGE_ROOT, resolve('.'));
  t.is(JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).name, 'virtlab');
  for (const f of [
    ['scripts', 'build-guest-image.sh'],
    ['scripts', 'build-vm-image.sh'],
    ['src', 'providers', 'netns', 'vm', 'reseed.sh'],
    ['src', 'providers', 'netns', 'switch-agent.sh'],
    ['schema', 'lab.base.json'],
  ])
    t.true(existsSync(packagePath(...f)), f.join('/'));
  t.false(COMPILED, 'the unit tests run the sources');
});

test('the command finds its labs, schemas and validators from any working folder', (t) => {
  const r = spawnSync(process.execPath, [BIN, 'validate', 'kvm-macvtap'], { cwd: tmpdir(), encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /ok {2}.*labs\/kvm-macvtap\.yml/);
  // a schema error comes from the validators (precompiled when the compiled code runs) with its position
  const file = join(PACKAGE_ROOT, 'test', 'fixtures', 'bad', 'bad-machine-name.yml');
  const bad = spawnSync(process.execPath, [BIN, 'validate', file], { cwd: tmpdir(), encoding: 'utf8' });
  t.is(bad.status, 2, bad.stderr);
  t.is(
    bad.stderr.split('\n')[0],
    `${PACKAGE_ROOT}/${readFileSync(file.replace(/\.yml$/, '.expected'), 'utf8').split('\n')[0]}`,
  );
});

test("the bundle starts from V8's code cache, kept per command; a cache others could write is never read", (t) => {
  const src = (dir: string): number =>
    Math.max(
      ...readdirSync(dir, { withFileTypes: true }).map((e) =>
        e.isDirectory() ? src(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs,
      ),
    );
  const stamp = statSync(join(PACKAGE_ROOT, 'dist', '.stamp'), { throwIfNoEntry: false });
  if (!stamp || stamp.mtimeMs < src(join(PACKAGE_ROOT, 'src')))
    return t.fail('the compiled CLI is older than the sources: npm run build (CI builds it at npm ci)');
  const cache = mkdtempSync(join(tmpdir(), 'virtlab-v8-'));
  const run = () => {
    const r = spawnSync(process.execPath, [BIN, 'list'], {
      env: { ...process.env, VIRTLAB_CACHE: cache },
      encoding: 'utf8',
    });
    t.is(r.status, 0, r.stderr);
    t.regex(r.stdout, /kvm-macvtap/);
  };
  run();
  const dir = join(cache, 'v8');
  const [file] = readdirSync(dir);
  t.regex(file!, /^virtlab-[0-9a-f]{16}-list\.bin$/);
  t.is(statSync(join(dir, file!)).mode & 0o777, 0o600);
  const good = readFileSync(join(dir, file!));
  t.true(good.length > 100000, `a cache of the compiled functions (${good.length} bytes)`);
  // a cache V8 refuses (not made from this bundle) is made again
  writeFileSync(join(dir, file!), 'not a code cache');
  run();
  t.not(readFileSync(join(dir, file!), 'utf8'), 'not a code cache');
  // a cache file others can write is not read (it would be code run as this user): made anew, only this user's
  const valid = readFileSync(join(dir, file!));
  chmodSync(join(dir, file!), 0o666);
  run();
  t.is(statSync(join(dir, file!)).mode & 0o777, 0o600, 'replaced, not read');
  t.true(valid.length > 0);
  // and in a folder others can write, a cache is neither read nor written
  chmodSync(dir, 0o777);
  writeFileSync(join(dir, file!), 'planted');
  run();
  t.is(readFileSync(join(dir, file!), 'utf8'), 'planted');
});

test("the command hands node's CA file over (node would parse it at every start); child processes get it back", (t) => {
  // bin/virtlab with a `node` that shows how it was started, called directly and through a link (npm i -g)
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-bin-'));
  writeFileSync(
    join(dir, 'node'),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansions
    '#!/bin/sh\necho "NODE_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS-unset} VIRTLAB_EXTRA_CA_CERTS=${VIRTLAB_EXTRA_CA_CERTS-unset} $*"\n',
  );
  chmodSync(join(dir, 'node'), 0o755);
  symlinkSync(resolve('bin/virtlab'), join(dir, 'virtlab'));
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
  for (const cmd of [resolve('bin/virtlab'), join(dir, 'virtlab')]) {
    const withCa = spawnSync(cmd, ['run', 'a lab'], {
      env: { ...env, NODE_EXTRA_CA_CERTS: '/etc/my-ca.pem' },
      encoding: 'utf8',
    });
    t.is(withCa.stdout, `NODE_EXTRA_CA_CERTS=unset VIRTLAB_EXTRA_CA_CERTS=/etc/my-ca.pem ${BIN} run a lab\n`, cmd);
    const without = { ...env };
    delete without.NODE_EXTRA_CA_CERTS;
    delete without.VIRTLAB_EXTRA_CA_CERTS;
    t.is(
      spawnSync(cmd, ['list'], { env: without, encoding: 'utf8' }).stdout,
      `NODE_EXTRA_CA_CERTS=unset VIRTLAB_EXTRA_CA_CERTS=unset ${BIN} list\n`,
    );
  }
  // bin/virtlab.js sets it back for the processes it starts
  writeFileSync(
    join(dir, 'show.cjs'),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the preload's own template
    "process.on('exit', () => process.stderr.write(`child env: ${process.env.NODE_EXTRA_CA_CERTS}\\n`));\n",
  );
  const inner: NodeJS.ProcessEnv = { ...process.env, VIRTLAB_EXTRA_CA_CERTS: '/etc/my-ca.pem' };
  delete inner.NODE_EXTRA_CA_CERTS;
  const r = spawnSync(process.execPath, ['-r', join(dir, 'show.cjs'), BIN, '--version'], {
    env: inner,
    encoding: 'utf8',
  });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, /child env: \/etc\/my-ca\.pem/);
});
