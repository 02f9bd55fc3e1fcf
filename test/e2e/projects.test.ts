// A project of the user's own, outside the package: `virtlab init` writes one, the current folder (or --project)
// makes it the project, the package's labs stay runnable as examples, and after `npm i -g` of the packed package the
// global command runs the project's own lab.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'ava';
import { leftovers } from '../helpers/host.ts';

const PKG = resolve('.');
const CLI = join(PKG, 'bin/virtlab.js');

function vl(bin: string, args: string[], cwd: string) {
  const r = spawnSync(bin, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 240000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, out: r.stdout + r.stderr };
}

test.serial('init writes a starter project; in its folder virtlab validates, lists and runs its own lab', (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'virtlab-proj-')), 'mylab');
  const init = vl(CLI, ['init', dir], tmpdir());
  t.is(init.code, 0, init.out);
  for (const f of ['labs/starter.yml', 'labs/starter/macvtap.xml', 'machines.yml', 'playbooks/provision.yml'])
    t.true(existsSync(join(dir, f)), f);
  t.regex(
    readFileSync(join(dir, 'labs/starter.yml'), 'utf8'),
    /^# yaml-language-server: \$schema=.*\/schema\/lab\.schema\.json$/m,
  );
  t.is(vl(CLI, ['init', dir], tmpdir()).code, 2, 'nothing is overwritten');
  const val = vl(CLI, ['validate'], dir);
  t.is(val.code, 0, val.out);
  t.regex(val.stdout, /^ok {2}labs\/starter\.yml$/m);
  t.regex(val.stdout, /^ok {2}machines\.yml$/m);
  const list = vl(CLI, ['list'], dir);
  t.regex(list.stdout, /^starter +A guest on a macvtap network/m);
  t.regex(list.stdout, /^kvm-macvtap +\(example\) /m);
  // --project from anywhere else
  t.regex(vl(CLI, ['list', '--project', dir], tmpdir()).stdout, /^starter /m);
  const run = vl(CLI, ['run', 'starter', '--name', 'e2e-proj'], dir);
  t.is(run.code, 0, run.out);
  t.regex(run.stdout, /PASS {2}3\/3 assertions as expected/);
  t.regex(run.stdout, /ok hv-01: a folder for the lab's files/, "the project's own playbook ran");
  const runId = /run ([0-9a-f]{6})/.exec(run.stdout)![1]!;
  t.deepEqual(leftovers('e2e-proj', runId), []);
});

test.serial('after npm i -g of the packed package, the global command runs a project of its own', (t) => {
  const work = mkdtempSync(join(tmpdir(), 'virtlab-global-'));
  const tgz = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: PKG, encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop()!;
  const prefix = join(work, 'prefix');
  const inst = spawnSync('npm', ['install', '-g', join(work, tgz), '--prefix', prefix, '--no-audit', '--no-fund'], {
    encoding: 'utf8',
    timeout: 300000,
  });
  t.is(inst.status, 0, inst.stderr);
  const bin = join(prefix, 'bin/virtlab');
  const proj = join(work, 'project');
  t.is(vl(bin, ['init', proj], work).code, 0);
  const list = vl(bin, ['list'], proj);
  t.regex(list.stdout, /^starter /m);
  t.regex(list.stdout, /^kvm-macvtap +\(example\)/m, "the package's labs are there as examples");
  const run = vl(bin, ['run', 'starter', '--name', 'e2e-global'], proj);
  t.is(run.code, 0, run.out);
  t.regex(run.stdout, /PASS {2}3\/3 assertions as expected/);
});
