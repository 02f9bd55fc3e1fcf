// Files of the installation are named from the package root, found from one module: the same from the sources,
// from dist/ and from the bundle (dist/virtlab.cjs), whichever bin/virtlab.js runs.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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
