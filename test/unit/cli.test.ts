// The commands' own logic against a private VIRTLAB_HOME: status and down over state files (good, corrupt and
// forged), reset refusing an unknown step before it removes anything, doctor's JSON, the access lines.

import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { parseArgs } from '../../src/cli/args.ts';
import { classFootprintMiB, classPlan, classTable, readClass } from '../../src/cli/class.ts';
import { breakFixText, instructions } from '../../src/cli/course.ts';
import { doctor } from '../../src/cli/doctor.ts';
import { checkpointsOf } from '../../src/cli/grade.ts';
import { check, down } from '../../src/cli/instances.ts';
import { reset } from '../../src/cli/lifecycle.ts';
import { printAccess, reporter } from '../../src/cli/output.ts';
import { fmtAge, parseAge, pastRuns } from '../../src/cli/runs.ts';
import { status } from '../../src/cli/status.ts';
import { EXIT, UsageError } from '../../src/errors.ts';
import { StateStore } from '../../src/host/state.ts';
import { drawFaults, faultArgv } from '../../src/kinds/faults.ts';
import { loadLab, studentParams } from '../../src/lab/load.ts';
import { variedParams } from '../../src/lab/variants.ts';
import type { AssertionResult } from '../../src/report/events.ts';
import { tmpHome } from '../helpers/fakes.ts';

const home = tmpHome();
process.env.VIRTLAB_HOME = home.root;
mkdirSync(home.state, { recursive: true });

function captureStdout(fn: () => unknown): Promise<{ out: string; err: string; result: unknown }> {
  const [write, ewrite, log, elog] = [process.stdout.write, process.stderr.write, console.log, console.error];
  let out = '';
  let err = '';
  process.stdout.write = ((s: string) => {
    out += s;
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => {
    err += s;
    return true;
  }) as typeof process.stderr.write;
  console.log = (...a: unknown[]) => {
    out += `${a.join(' ')}\n`;
  };
  console.error = (...a: unknown[]) => {
    err += `${a.join(' ')}\n`;
  };
  const restore = () => {
    [process.stdout.write, process.stderr.write, console.log, console.error] = [write, ewrite, log, elog];
  };
  return Promise.resolve()
    .then(fn)
    .then(
      (result) => {
        restore();
        return { out, err, result };
      },
      (e) => {
        restore();
        throw e;
      },
    );
}

const state = (instance: string, extra: Record<string, unknown> = {}) => ({
  version: 2,
  instance,
  lab: 'kvm-macvtap',
  labFile: 'labs/kvm-macvtap.yml',
  runId: 'abc123',
  provider: 'netns',
  providerOptions: {},
  runner: { pid: 999999, start: '1' },
  createdAt: new Date(Date.now() - 90_000).toISOString(),
  runDir: join(home.runs, `${instance}-abc123`),
  keyFile: '/nonexistent',
  status: 'kept',
  resources: [],
  machines: [
    {
      name: 'kvm-01',
      role: 'hypervisor',
      ram: 2048,
      vcpu: 2,
      address: '100.127.0.2',
      hostKey: '',
      data: { ns: 'x', dir: '/x', mgmtLink: 'l', mgmtLocal: '100.127.0.1' },
    },
  ],
  ...extra,
});

test.serial(
  'status lists instances and their machines; --json too; a corrupt state file is named with exit 3',
  async (t) => {
    writeFileSync(StateStore.pathFor(home, 'alice'), JSON.stringify(state('alice')));
    const text = await captureStdout(() => status(parseArgs(['status'])));
    t.is(text.result, EXIT.ok);
    t.regex(text.out, /^alice {2}lab kvm-macvtap, run abc123, up, age 9\d s$/m);
    t.regex(text.out, /kvm-01 +hypervisor +100\.127\.0\.2 +2048 MiB, 2 vCPU/);
    t.regex(
      text.out,
      /networks:\n {4}lan 192\.168\.100\.0\/24 \(gateway 192\.168\.100\.1, DHCP 192\.168\.100\.150-192\.168\.100\.199\)/,
    );
    t.regex(text.out, /macvtap-net on kvm-01 \(libvirt, bridge on eth1\)/);
    t.regex(text.out, /guests:\n {4}cirros +on kvm-01 +- +52:54:00:ff:55:d1 +macvtap-net/);
    const json = await captureStdout(() => status(parseArgs(['status', '--json'])));
    t.like(JSON.parse(json.out)[0], {
      instance: 'alice',
      status: 'kept',
      machines: [{ name: 'kvm-01', kind: 'namespace' }],
    });
    writeFileSync(StateStore.pathFor(home, 'broken'), '{"version": 2');
    const bad = await captureStdout(() => status(parseArgs(['status'])));
    t.is(bad.result, EXIT.host);
    t.regex(bad.err, /cannot use .*broken\.json: state file .* is corrupted \(not JSON\)/);
    const forget = await captureStdout(() => down(parseArgs(['down', '--force-forget', 'broken'])));
    t.is(forget.result, EXIT.ok);
    t.regex(forget.out, /broken: state file .* dropped; nothing it listed was removed/);
  },
);

test.serial('reset to a step the lab does not have changes nothing', async (t) => {
  writeFileSync(StateStore.pathFor(home, 'bob'), JSON.stringify(state('bob')));
  const e = await t.throwsAsync(reset(parseArgs(['reset', 'bob', '--to', 'nosuch'])));
  t.true(e instanceof UsageError);
  t.regex(e!.message, /lab kvm-macvtap has no step "nosuch"/);
  t.is(StateStore.load(StateStore.pathFor(home, 'bob')).state.status, 'kept', 'the instance is untouched');
});

test.serial(
  'check --class grades exactly the listed students: one not up (or only running) is named first',
  async (t) => {
    writeFileSync(StateStore.pathFor(home, 'carl'), JSON.stringify(state('carl')));
    // a run still going (status up, not kept) is nobody's exercise
    writeFileSync(StateStore.pathFor(home, 'dora'), JSON.stringify(state('dora', { status: 'up' })));
    const list = join(mkdtempSync(join(tmpdir(), 'virtlab-class-')), 'students.txt');
    writeFileSync(list, 'carl\ndora\nemil\n');
    await t.throwsAsync(check(parseArgs(['check', 'kvm-macvtap', '--class', list])), {
      instanceOf: UsageError,
      message: 'not up as instances of lab kvm-macvtap: dora, emil',
    });
    await t.throwsAsync(check(parseArgs(['check', 'kvm-macvtap', '--class', list, '--all'])), {
      message: /either --all or --class/,
    });
  },
);

test.serial('down needs instance names, --all or --stale: one of them', async (t) => {
  await t.throwsAsync(down(parseArgs(['down'])), { message: /down needs an instance name, --all or --stale/ });
  await t.throwsAsync(down(parseArgs(['down', 'x', '--all'])), {
    message: /down takes one of: instance names, --all or --stale/,
  });
  await t.throwsAsync(down(parseArgs(['down', '--all', '--stale'])), { message: /down takes one of/ });
});

test.serial("doctor --json lists every environment variable and the providers' findings", async (t) => {
  const r = await captureStdout(() => doctor(parseArgs(['doctor', '--json'])));
  const j = JSON.parse(r.out);
  t.true(
    ['VIRTLAB_HOME', 'VIRTLAB_READY_TIMEOUT', 'VIRTLAB_RETRY'].every((n) =>
      j.environment.some((e: { name: string }) => e.name === n),
    ),
  );
  t.is(j.environment.find((e: { name: string }) => e.name === 'VIRTLAB_HOME').value, home.root);
  t.is(typeof j.ok, 'boolean');
  t.is(r.result, j.ok ? EXIT.ok : EXIT.host);
});

test.serial(
  'the access lines name every machine with its address; the JSON reporter writes one event per line',
  async (t) => {
    const store = StateStore.load(StateStore.pathFor(home, 'alice'));
    const r = await captureStdout(() => printAccess(store));
    t.regex(r.out, /virtlab ssh alice kvm-01 +\(hypervisor, 100\.127\.0\.2\)/);
    const j = await captureStdout(() =>
      reporter(parseArgs(['run', 'x', '--json']))({ type: 'stage-start', stage: 'up' }),
    );
    t.like(JSON.parse(j.out), { type: 'stage-start', stage: 'up' });
  },
);

test.serial('a state file once removed is not brought back by a late write', (t) => {
  const path = StateStore.pathFor(home, 'carol');
  writeFileSync(path, JSON.stringify(state('carol')));
  const store = StateStore.load(path);
  store.remove();
  store.update((s) => {
    s.status = 'down';
  });
  t.false(existsSync(path));
  t.is(store.state.status, 'down', 'the state in memory still changes');
});

test.serial('runs: ages, and only folders virtlab names are past runs', async (t) => {
  t.is(parseAge('30m'), 1800);
  t.is(parseAge('7d'), 604800);
  t.throws(() => parseAge('soon'), { message: /--older-than takes an age such as 30m, 12h or 7d/ });
  t.is(fmtAge(90), '90 s');
  t.is(fmtAge(3 * 86400), '3 d');
  mkdirSync(join(home.runs, 'old-abcdef'), { recursive: true });
  mkdirSync(join(home.runs, 'not a run'), { recursive: true });
  const since = new Date(Date.now() - 86400000).toISOString();
  writeFileSync(
    join(home.runs, 'old-abcdef', 'report.json'),
    JSON.stringify({ lab: 'x', result: 'fail', startedAt: since }),
  );
  const runs = pastRuns();
  t.deepEqual(
    runs.filter((r) => r.instance === 'old').map((r) => [r.runId, r.lab, r.result, r.ageS > 86000]),
    [['abcdef', 'x', 'fail', true]],
  );
  t.false(runs.some((r) => r.folder.endsWith('not a run')));
});

test('course instructions: the steps left with the lab numbers, no commands unless --show-solution', (t) => {
  const lab = loadLab('kvm-macvtap');
  const text = instructions(lab, 'net-define', 'alice');
  t.regex(text, /^Already done for you:\n {2}1\. upload/m);
  t.regex(text, /^4\. \[promisc\] promiscuous mode on for eth1 on kvm-01\n {4}why: This step is very important/m);
  t.notRegex(text, /\$ |virsh net-define|promisc on/);
  const teacher = instructions(lab, 'net-define', 'alice', { showSolution: true });
  t.regex(teacher, /\$ ip link set dev eth1 promisc on/);
  t.regex(teacher, /^4\. \[promisc\]/m);
});

test('break-fix faults are drawn per instance, reproducibly, in the lab order; the student is told how many, not which', (t) => {
  const faults = loadLab('kvm-macvtap').exercise!.faults!;
  t.is(faults.length, 2);
  const names = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
  const drawn = names.map((n) => drawFaults(faults, 1, n)[0]!.kind);
  t.deepEqual(
    names.map((n) => drawFaults(faults, 1, n)[0]!.kind),
    drawn,
    'the same name draws the same fault',
  );
  t.true(new Set(drawn).size === 2, `students get different faults: ${drawn.join(', ')}`);
  t.deepEqual(
    drawFaults(faults, 2, 'x').map((f) => f.kind),
    ['promisc-off', 'link-down'],
  );
  t.deepEqual(faultArgv(faults[0]!), ['ip', 'link', 'set', 'dev', 'eth1', 'promisc', 'off']);
  const told = breakFixText('alice', ['eth1 of kvm-01 leaves promiscuous mode']);
  t.regex(told, /Break-fix: 1 fault was put into this lab/);
  t.notRegex(told, /promisc/);
  t.regex(
    breakFixText('alice', ['eth1 of kvm-01 leaves promiscuous mode'], true),
    /- eth1 of kvm-01 leaves promiscuous mode/,
  );
});

/** An assertion result with an id and a status, as the class table and checkpoints read them. */
const r = (id: string, status: 'pass' | 'fail'): AssertionResult => ({
  id,
  status,
  kind: 'ping',
  title: id,
  expect: 'pass',
  observed: status,
  reason: '',
  durationMs: 1,
  evidence: [],
});

test('a class: the student list, and the class table as text, CSV and Markdown', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-class-'));
  const f = join(dir, 'students.txt');
  writeFileSync(f, '# class 3B\nalice\nbob  # second row\n\ncarol\n');
  t.deepEqual(readClass(f), ['alice', 'bob', 'carol']);
  writeFileSync(f, 'alice\nBob Smith\n');
  t.throws(() => readClass(f), { message: /students\.txt:2: "Bob Smith" cannot be a student's instance name/ });
  writeFileSync(f, 'alice\nalice\n');
  t.throws(() => readClass(f), { message: /a student is listed twice/ });
  const t1 = classTable([
    { instance: 'alice', results: [r('lease', 'pass'), r('ping', 'pass')], score: { points: 2, max: 2 }, exitCode: 0 },
    { instance: 'bob', results: [r('lease', 'pass'), r('ping', 'fail')], score: { points: 1, max: 2 }, exitCode: 1 },
  ]);
  t.regex(t1.text, /^alice +2\/2 +2\/2 +-$/m);
  t.regex(t1.text, /^bob +1\/2 +1\/2 +ping$/m);
  t.is(t1.csv, 'student,points,max,passed,checks,failing\nalice,2,2,2,2,\nbob,1,2,1,2,ping\n');
  t.regex(t1.md, /\| bob \| 1\/2 \| 1\/2 \| ping \|/);
});

test('per-student values are drawn from the instance name, the same each time, different between students', (t) => {
  const vary = { net: ['110', '120', '130', '140', '150'], guest: ['g1', 'g2'] };
  t.deepEqual(variedParams(vary, 'alice'), variedParams(vary, 'alice'));
  const nets = new Set(['alice', 'bob', 'carol', 'dave', 'erin', 'frank'].map((n) => variedParams(vary, n).net));
  t.true(nets.size > 1);
  t.deepEqual(Object.keys(variedParams(vary, 'x')), ['net', 'guest']);
  t.deepEqual(
    studentParams(loadLab('test/fixtures/labs/varied.yml'), 'varied'),
    {},
    "the lab's own instance keeps its defaults",
  );
});

test('checkpoints: the checks each stage passed, and the stages done in a row', (t) => {
  const list = loadLab('kvm-macvtap').exercise!.checkpoints!;
  const half = checkpointsOf(list, [
    r('link-promisc', 'pass'),
    r('lease', 'pass'),
    r('ping-remote', 'fail'),
    r('mac-match', 'pass'),
  ]);
  t.is(half.reached, 1);
  t.deepEqual(
    half.checkpoints!.map((c) => [c.name, c.passed, c.total, c.done]),
    [
      ['uplink', 1, 1, true],
      ['guest', 2, 3, false],
    ],
  );
  const table = classTable([{ instance: 'bob', results: [], score: { points: 0, max: 13 }, exitCode: 1, ...half }]);
  t.regex(table.text, /^student +stage +score/m);
  t.regex(table.csv, /^bob,1\/2,0,13,0,0,$/m);
  t.regex(table.md, /\| bob \| 1\/2 \| 0\/13 \|/);
  t.deepEqual(checkpointsOf([], []), {});
});

test('a class comes up as many at a time as the cores allow, and only as many as free memory holds', (t) => {
  const each = classFootprintMiB(loadLab('kvm-macvtap'));
  t.is(each, 128 + 2 * 60, "the guest's RAM and each machine's daemons");
  t.deepEqual(classPlan(30, 250, 24000, 2), { fits: 30, parallel: 2 });
  t.deepEqual(classPlan(30, 250, 2600, 8), { fits: 10, parallel: 8 });
  t.deepEqual(classPlan(3, 250, 100, 2), { fits: 0, parallel: 1 });
});
