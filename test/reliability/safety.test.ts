// virtlab never touches, reads or deletes anything it did not create, whatever the state file, the lab or the
// options say: forged state files, a reused PID, report folders that are not virtlab's, hostile instance names,
// a reset to a step that does not exist, and the paste-safety of explain against a kept lab.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { leftovers, orphanNamespaceProcesses, virtlab } from '../helpers/host.ts';
import { startVirtlab } from '../helpers/spawn.ts';

const STATE = '/var/lib/virtlab/state';
const tmp = () => mkdtempSync(join(tmpdir(), 'virtlab-safety-'));
const procStart = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]!;
const alive = (pid: number) =>
  existsSync(`/proc/${pid}`) && !/^\S+ Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!);

/**
 * A VIRTLAB_HOME of the test's own: `down --all` and `status` act on every instance of a home, and other test files
 * run labs in the shared one at the same time (a `down --all` there stopped their runs).
 */
function privateHome(): { env: { VIRTLAB_HOME: string }; state: string } {
  const root = tmp();
  return { env: { VIRTLAB_HOME: root }, state: join(root, 'state') };
}

function forgedState(state: string, instance: string, extra: Record<string, unknown>): string {
  const path = join(state, `${instance}.json`);
  mkdirSync(state, { recursive: true, mode: 0o700 });
  const runId = 'f0f0f0';
  writeFileSync(
    path,
    JSON.stringify({
      version: 2,
      instance,
      lab: 'kvm-macvtap',
      labFile: '/nonexistent.yml',
      runId,
      provider: 'netns',
      providerOptions: {},
      createdAt: new Date().toISOString(),
      runDir: `/var/lib/virtlab/runs/${instance}-${runId}`,
      keyFile: '/nonexistent',
      status: 'creating',
      machines: [],
      resources: [],
      ...extra,
    }),
    { mode: 0o600 },
  );
  return path;
}

test.serial(
  'a forged state file: foreign namespaces, links, folders and processes survive down and down --all, each reported',
  (t) => {
    const sleeper = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
    const pid = sleeper.pid!;
    const folder = tmp();
    writeFileSync(join(folder, 'precious'), 'keep me');
    execFileSync('ip', ['netns', 'add', 'vltest-foreign']);
    // a namespace that carries the instance's prefix, but is not the one the run created (another inode)
    execFileSync('ip', ['netns', 'add', 'vl-forged-f0f0f0-m-x']);
    execFileSync('ip', ['link', 'add', 'vltfA', 'type', 'veth', 'peer', 'name', 'vltfB']);
    const h = privateHome();
    try {
      forgedState(h.state, 'forged', {
        // the runner: a live process with a start time that is not its own (a reused PID)
        runner: { pid, start: '1' },
        resources: [
          { kind: 'netns', name: 'vltest-foreign', owner: 'x' },
          { kind: 'netns', name: 'vl-forged-f0f0f0-m-x', owner: 'x', ino: 1 },
          { kind: 'link', name: 'vltfA', owner: 'x' },
          { kind: 'dir', path: folder, owner: 'run' },
          { kind: 'process', label: 'dnsmasq for lan', owner: 'lan', proc: { pid, start: procStart(pid) } },
        ],
      });
      for (const args of [
        ['down', 'forged'],
        ['down', '--all'],
      ]) {
        const r = virtlab(args, h);
        t.is(r.code, 3, r.out);
        t.regex(r.out, /not removed: namespace vltest-foreign: its name does not start with vl-forged-f0f0f0-/);
        t.regex(r.out, /not removed: namespace vl-forged-f0f0f0-m-x: it is not the namespace this run created/);
        t.regex(r.out, /not removed: link vltfA: its alias is "", not this run's mark/);
        t.regex(r.out, new RegExp(`not removed: folder ${folder}: `));
        t.regex(
          r.out,
          new RegExp(
            `not removed: process dnsmasq for lan \\(pid ${pid}\\): it does not live in a namespace of this run`,
          ),
        );
        t.true(alive(pid), 'the process is alive');
        t.true(existsSync('/run/netns/vltest-foreign') && existsSync('/run/netns/vl-forged-f0f0f0-m-x'));
        t.true(existsSync('/sys/class/net/vltfA'));
        t.is(readFileSync(join(folder, 'precious'), 'utf8'), 'keep me');
      }
      // the state file that could not be trusted is dropped by hand, removing nothing it lists
      const f = virtlab(['down', '--force-forget', 'forged'], h);
      t.is(f.code, 0, f.out);
      t.false(existsSync(join(h.state, 'forged.json')));
      t.true(alive(pid));
    } finally {
      process.kill(pid, 'SIGKILL');
      spawnSync('ip', ['netns', 'delete', 'vltest-foreign']);
      spawnSync('ip', ['netns', 'delete', 'vl-forged-f0f0f0-m-x']);
      spawnSync('ip', ['link', 'delete', 'vltfA']);
      rmSync(h.env.VIRTLAB_HOME, { recursive: true, force: true });
    }
  },
);

test.serial('a corrupt state file: status and down --all name it and exit 3; down --force-forget drops it', (t) => {
  const h = privateHome();
  const path = join(h.state, 'garbled.json');
  mkdirSync(h.state, { recursive: true, mode: 0o700 });
  writeFileSync(path, '{"version": 2, "instance": "garbled", "resour', { mode: 0o600 });
  try {
    const s = virtlab(['status'], h);
    t.is(s.code, 3, s.out);
    t.true(s.stderr.includes(`cannot use ${path}: state file`), s.stderr);
    t.regex(s.stderr, /is corrupted/);
    const d = virtlab(['down', '--all'], h);
    t.is(d.code, 3, d.out);
    t.regex(d.stderr, /garbled\.json/);
    t.regex(virtlab(['down', 'garbled'], h).stderr, /hint: .*virtlab down --force-forget garbled/);
    t.is(virtlab(['down', '--force-forget', 'garbled'], h).code, 0);
    t.false(existsSync(path));
  } finally {
    rmSync(h.env.VIRTLAB_HOME, { recursive: true, force: true });
  }
});

test.serial('instance names are checked by every command that takes one', (t) => {
  const target = join(tmp(), 'x.json');
  writeFileSync(target, '{}');
  for (const args of [
    ['down', '../../../tmp/x'],
    ['ssh', '../x', 'kvm-01'],
    ['check', 'a/b'],
    ['reset', '..'],
    ['run', 'kvm-macvtap', '--name', '../x'],
  ]) {
    const r = virtlab(args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.out}`);
    t.regex(r.stderr, /cannot be an instance name/);
  }
  t.is(readFileSync(target, 'utf8'), '{}');
});

test.serial(
  'report folders: one that holds files virtlab did not write, or is a file, is refused before anything exists',
  (t) => {
    const d = tmp();
    writeFileSync(join(d, 'mine.txt'), 'user data');
    const file = join(tmp(), 'a-file');
    writeFileSync(file, 'x');
    for (const [dir, why] of [
      [d, /already holds files virtlab did not write/],
      [file, /is not a folder/],
    ] as const) {
      const r = virtlab(['run', 'kvm-macvtap', '--name', 'safety-rd', '--report-dir', dir]);
      t.is(r.code, 2, r.out);
      t.regex(r.stderr, why);
      t.false(existsSync(join(STATE, 'safety-rd.json')), 'no instance was created');
    }
    t.deepEqual(readdirSync(d), ['mine.txt']);
    const g = virtlab(['graph', 'kvm-macvtap', '--out', d]);
    t.is(g.code, 2, g.out);
    t.regex(g.stderr, /--out .* is a folder/);
  },
);

test.serial('options are checked the same for plan and run, before anything happens; unknown ones are refused', (t) => {
  for (const cmd of ['plan', 'run']) {
    const r = virtlab([cmd, 'kvm-macvtap', '--skip', 'nosuch', '--name', 'safety-opt']);
    t.is(r.code, 2, r.out);
    t.regex(r.stderr, /lab kvm-macvtap has no step "nosuch"/);
    t.regex(virtlab([cmd, 'kvm-macvtap', '--provider', 'nope']).stderr, /unknown provider "nope"/);
    t.regex(virtlab([cmd, 'kvm-macvtap', '--report-format', 'pdf']).stderr, /unknown report format "pdf"/);
    t.regex(virtlab([cmd, 'kvm-macvtap', '--to', 'x']).stderr, /does not take --to/);
  }
  t.false(existsSync(join(STATE, 'safety-opt.json')));
});

test.serial('as a user other than root, every command that needs root exits 3 with a hint', (t) => {
  for (const cmd of ['status', 'down --all', 'run kvm-macvtap', 'ssh x y', 'check x']) {
    const r = spawnSync(
      'runuser',
      ['-u', 'nobody', '--', process.execPath, '--import', 'tsx', 'src/cli/main.ts', ...cmd.split(' ')],
      { encoding: 'utf8' },
    );
    t.is(r.status, 3, `${cmd}: ${r.stderr}`);
    t.regex(r.stderr, /must run as root[\s\S]*hint: run it as root/);
  }
  const v = spawnSync(
    'runuser',
    ['-u', 'nobody', '--', process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'validate', 'kvm-macvtap'],
    { encoding: 'utf8' },
  );
  t.is(v.status, 0, v.stderr);
});

test.serial(
  'reset --to a step that does not exist changes nothing; explain pasted into a shell runs exactly its argv',
  async (t) => {
    const lab = 'test/fixtures/labs/hostile-argv.yml';
    const up = virtlab(['up', lab, '--name', 'safety-paste', '--until', 'hostile']);
    t.is(up.code, 0, up.out);
    try {
      const state = JSON.parse(readFileSync(join(STATE, 'safety-paste.json'), 'utf8'));
      const r = virtlab(['reset', 'safety-paste', '--to', 'nosuch']);
      t.is(r.code, 2, r.out);
      t.regex(r.stderr, /has no step "nosuch"/);
      const after = JSON.parse(readFileSync(join(STATE, 'safety-paste.json'), 'utf8'));
      t.is(after.runId, state.runId, 'the instance is the same one');
      t.regex(virtlab(['ssh', 'safety-paste', 'remote-01', '--', 'hostname']).stdout, /remote-01/);
      // the student pastes the printed command after `virtlab ssh <instance> <machine> --`
      const line = virtlab(['explain', lab])
        .stdout.split('\n')
        .find((l) => l.trim().startsWith('$ '))!
        .trim()
        .slice(2);
      const pasted = spawnSync('bash', ['-c', `npx tsx src/cli/main.ts ssh safety-paste remote-01 -- ${line}`], {
        encoding: 'utf8',
      });
      t.is(pasted.status, 0, pasted.stderr);
      const out = virtlab(['ssh', 'safety-paste', 'remote-01', '--', 'cat', '/tmp/virtlab-paste-out']).stdout;
      t.is(out, '$(touch /tmp/virtlab-pwned); `id`|a b\'c"d\\e *|');
      t.is(
        virtlab(['ssh', 'safety-paste', 'remote-01', '--', 'test', '-e', '/tmp/virtlab-pwned']).code,
        1,
        'the $(...) did not run',
      );
      t.false(existsSync('/tmp/virtlab-pwned'));
    } finally {
      t.is(virtlab(['down', 'safety-paste']).code, 0);
    }
    t.deepEqual(leftovers('safety-paste'), []);
  },
);

test.serial(
  'a retried run keeps its first attempt in <report-dir>/attempt-1/ and never touches a sibling folder',
  async (t) => {
    const parent = tmp();
    const dir = join(parent, 'report');
    const sibling = `${dir}-attempt-1`;
    mkdirSync(sibling);
    writeFileSync(join(sibling, 'mine'), 'user data');
    const run = startVirtlab(['run', 'kvm-macvtap', '--name', 'safety-retry', '--report-dir', dir]);
    await run.when((e) => e.type === 'stage-start' && e.stage === 'setup', 120000);
    // kvm-01 dies under the run: its init is killed (the state names it, with its start time)
    const s = JSON.parse(readFileSync(join(STATE, 'safety-retry.json'), 'utf8'));
    const init = s.resources.find((r: any) => r.kind === 'process' && r.label === 'init of kvm-01').proc.pid;
    process.kill(init, 'SIGKILL');
    const done = await run.done;
    t.is(done.code, 0, done.stdout.slice(-2000) + done.stderr);
    t.true(run.events.some((e) => e.type === 'log' && /running the lab once more/.test(e.message)));
    t.is(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).result, 'pass');
    t.is(JSON.parse(readFileSync(join(dir, 'attempt-1', 'report.json'), 'utf8')).result, 'error');
    t.deepEqual(readdirSync(sibling), ['mine']);
    t.is(readFileSync(join(sibling, 'mine'), 'utf8'), 'user data');
    t.true(statSync(dir).isDirectory());
    t.deepEqual(leftovers('safety-retry'), []);
    t.deepEqual(orphanNamespaceProcesses(), []);
  },
);

test.serial('check --report-dir never writes over a report.json it did not make', (t) => {
  const d = tmp();
  writeFileSync(join(d, 'report.json'), '{"mine": true}');
  const r = virtlab(['check', 'nosuch-instance', '--report-dir', d]);
  t.is(r.code, 3, r.out);
  const up = virtlab(['up', 'test/fixtures/labs/hostile-argv.yml', '--name', 'safety-check']);
  t.is(up.code, 0, up.out);
  try {
    const c = virtlab(['check', 'safety-check', '--report-dir', d]);
    t.is(c.code, 2, c.out);
    t.regex(c.stderr, /already holds files virtlab did not write/);
    t.is(readFileSync(join(d, 'report.json'), 'utf8'), '{"mine": true}');
  } finally {
    virtlab(['down', 'safety-check']);
  }
});
