// Files of the installation are named from the package root, found from one module: the same from the sources,
// from dist/ and from the bundle (dist/virtlab.mjs), whichever bin/virtlab.js runs.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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
