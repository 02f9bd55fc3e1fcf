// The lifecycle with a fake provider and fake machines: the order of the stages and of the removals, interrupts,
// a machine's death and the exit code each outcome gets. No root, no namespaces: the fakes answer.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { ConnectionLostError, EXIT, exitCodeFor, HostError } from '../../src/errors.ts';
import { loadLab } from '../../src/lab/load.ts';
import { type RunEvent, STAGES } from '../../src/report/events.ts';
import { consoleStalls } from '../../src/runner/finish.ts';
import { RETRIES, runWithRetry } from '../../src/runner/retry.ts';
import { type LifecycleOptions, runLifecycle } from '../../src/runner/run.ts';
import { captured, FakeExecutor, FakeProvider, tmpHome } from '../helpers/fakes.ts';

const lab = loadLab('test/fixtures/labs/unit/two-machines.yml');
const options = (o: Partial<LifecycleOptions> = {}): LifecycleOptions => ({
  mode: 'run',
  provider: 'fake',
  providerOptions: {},
  keep: false,
  skip: [],
  collect: 'on-failure',
  readyTimeoutMs: 1000,
  ...o,
});

const okPing = captured('ping-iputils-ok.txt').replaceAll('192.168.100.183', '192.168.100.101');
const lostPing = captured('ping-iputils-lost.txt').replaceAll('192.168.100.183', '192.168.100.250');

function machines(o: { remotePingFails?: boolean; onPrepare?: () => void; kvmStallsAfterChecks?: boolean } = {}) {
  let checked = false;
  return {
    'kvm-01': new FakeExecutor('kvm-01', [
      ...(o.kvmStallsAfterChecks ? [{ when: /^true$/, hang: () => checked }] : []),
      { when: /^ping .* 192\.168\.100\.250$/, exitCode: 1, stdout: lostPing, effect: () => (checked = true) },
      { when: /^sysctl -w/, stdout: 'net.ipv4.ip_forward = 1\n', effect: o.onPrepare },
      { when: /^ip -o link show dev eth1$/, stdout: '3: eth1@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n' },
      { when: /^ip link set dev eth1 promisc on$/ },
      { when: /^(uname|cat \/etc\/os-release|virsh version)/, stdout: '' },
    ]),
    'remote-01': new FakeExecutor('remote-01', [
      o.remotePingFails
        ? { when: /^ping /, exitCode: 1, stdout: lostPing.replaceAll('192.168.100.250', '192.168.100.101') }
        : { when: /^ping /, stdout: okPing },
      { when: /^(uname|cat \/etc\/os-release)/, stdout: '' },
    ]),
  };
}

async function run(provider: FakeProvider, o: Partial<LifecycleOptions> = {}, signal = new AbortController().signal) {
  const events: RunEvent[] = [];
  const home = tmpHome();
  const out = await runLifecycle(lab, options(o), (e) => events.push(e), signal, home, provider);
  return { out, events, home };
}

const stages = (events: RunEvent[]) => events.flatMap((e) => (e.type === 'stage-start' ? [e.stage] : []));

test('a passing run goes through every stage in order, removes what it made newest first, and exits 0', async (t) => {
  const p = new FakeProvider(machines());
  const { out, events, home } = await run(p);
  t.is(out.exitCode, EXIT.ok);
  t.is(out.result, 'pass');
  // every stage but break (up --break only)
  t.deepEqual(
    stages(events),
    STAGES.filter((s) => s !== 'break'),
  );
  t.deepEqual(p.removed, ['fake-remote-01', 'fake-kvm-01'], 'removed in reverse order of creation');
  t.deepEqual(out.results.map((r) => `${r.id}:${r.status}`).sort(), ['no-ping:pass', 'ping:pass']);
  // the steps ran their exact commands on the right machine, the state file is gone, the report was written
  t.true(p.execs['kvm-01']!.calls.some((c) => c.join(' ') === 'sysctl -w net.ipv4.ip_forward=1'));
  t.false(existsSync(join(home.state, `${lab.name}.json`)));
  const report = JSON.parse(readFileSync(join(out.reportDir!, 'report.json'), 'utf8'));
  t.is(report.result, 'pass');
  t.is(report.steps.find((s: { id: string }) => s.id === 'promisc').status, 'changed');
});

test('a failed check: exit 1, evidence collected, everything removed', async (t) => {
  const p = new FakeProvider(machines({ remotePingFails: true }));
  const { out, events } = await run(p);
  t.is(out.exitCode, EXIT.assertion);
  t.is(out.result, 'fail');
  t.true(stages(events).includes('collect'));
  t.true(
    out.files.some((f) => f.includes('/evidence/')),
    'evidence on failure',
  );
  t.deepEqual([...p.alive], []);
});

test('a problem found in preflight: a HostError (exit 3) before anything exists', async (t) => {
  const p = new FakeProvider(machines(), { problems: [{ what: 'no tini', hint: 'apt-get install tini' }] });
  const e = await t.throwsAsync(run(p));
  t.true(e instanceof HostError);
  t.is(exitCodeFor(e), EXIT.host);
  t.regex(e!.message, /the host is not ready[\s\S]*no tini[\s\S]*fix: apt-get install tini/);
  t.deepEqual(p.removed, []);
});

test('a bug while the machines come up: exit 70 with the trace, and teardown still runs', async (t) => {
  const p = new FakeProvider(machines(), { upFails: new TypeError('x is not a function') });
  const { out } = await run(p);
  t.is(out.exitCode, EXIT.internal);
  t.is(out.result, 'error');
  t.deepEqual([...p.alive], []);
  const report = JSON.parse(readFileSync(join(out.reportDir!, 'report.json'), 'utf8'));
  t.regex(report.error, /^internal error: TypeError: x is not a function/);
});

test('an interrupt during a step: exit 4, the rest skipped, everything removed', async (t) => {
  const ac = new AbortController();
  const p = new FakeProvider(machines({ onPrepare: () => ac.abort(new Error('SIGINT')) }));
  const { out, events } = await run(p, {}, ac.signal);
  t.is(out.exitCode, EXIT.interrupted);
  t.is(out.result, 'interrupted');
  t.false(stages(events).includes('assert'));
  t.true(events.some((e) => e.type === 'interrupted'));
  t.deepEqual([...p.alive], []);
});

test('something left after teardown: exit 3 naming it', async (t) => {
  const p = new FakeProvider(machines(), { leak: 'fake-kvm-01' });
  const { out, events } = await run(p);
  t.is(out.exitCode, EXIT.host);
  const end = events.find((e) => e.type === 'run-end');
  t.regex(end?.type === 'run-end' ? (end.message ?? '') : '', /teardown left resources behind: namespace fake-kvm-01/);
});

test('a machine that dies during the setup ends the run as its death, worth one more attempt', async (t) => {
  const p = new FakeProvider(machines());
  let dead = false;
  p.casualties = () => (dead ? [{ machine: 'kvm-01', why: 'its init process exited' }] : []);
  p.execs['kvm-01'] = new FakeExecutor('kvm-01', [
    { when: /^sysctl/, exitCode: 255, stderr: 'connection lost', effect: () => (dead = true) },
  ]);
  const { out } = await run(p);
  t.is(out.result, 'error');
  t.is(out.exitCode, EXIT.host);
  t.deepEqual(out.unstable?.reason, 'machine-died');
  t.deepEqual([...p.alive], []);
});

test('a VM that stops answering in the middle of a step is a stalled machine, worth one more attempt; a namespace is not', async (t) => {
  for (const vms of [['kvm-01'], []]) {
    const p = new FakeProvider(machines(), { vms });
    p.execs['kvm-01'] = new FakeExecutor('kvm-01', [
      {
        when: /^sysctl/,
        effect: () => {
          throw new ConnectionLostError('kvm-01', 'sysctl -w net.ipv4.ip_forward=1');
        },
      },
    ]);
    const { out, events } = await run(p);
    t.is(out.result, 'error');
    const failed = events.find((e) => e.type === 'step-end' && e.status === 'failed');
    t.regex(failed?.type === 'step-end' ? (failed.detail ?? '') : '', /kvm-01 stopped answering over ssh/);
    if (vms.length) t.is(out.unstable?.reason, 'machine-stalled');
    else t.is(out.unstable, undefined);
  }
});

test('evidence: a machine that does not answer is named in its folder, not waited for; the others are collected', async (t) => {
  const p = new FakeProvider(machines({ remotePingFails: true, kvmStallsAfterChecks: true }));
  const { out } = await run(p);
  t.is(out.result, 'fail');
  const kvm = out.files.find((f) => f.endsWith('/evidence/kvm-01/NOT-COLLECTED.txt'));
  t.truthy(kvm, out.files.join('\n'));
  t.regex(readFileSync(kvm!, 'utf8'), /kvm-01 did not answer within 5 s/);
  t.false(out.files.some((f) => f.includes('/evidence/kvm-01/ip-')));
  t.true(out.files.some((f) => f.endsWith('/evidence/remote-01/ip-addr.json')));
});

test('--keep and up leave the machines up, recorded as kept', async (t) => {
  const p = new FakeProvider(machines());
  const { out, home } = await run(p, { mode: 'up' });
  t.is(out.exitCode, EXIT.ok);
  t.deepEqual(p.removed, []);
  t.is(JSON.parse(readFileSync(join(home.state, `${lab.name}.json`), 'utf8')).status, 'kept');
});

test('a run that breaks beneath the lab is tried up to twice more, each attempt said aloud and its report kept', async (t) => {
  const events: RunEvent[] = [];
  const home = tmpHome();
  const reportDir = join(home.root, 'report');
  let attempts = 0;
  // kvm-01 dies during the setup, every attempt
  const dying = () => {
    attempts++;
    const p = new FakeProvider(machines());
    let dead = false;
    p.casualties = () => (dead ? [{ machine: 'kvm-01', why: 'its init process exited' }] : []);
    p.execs['kvm-01'] = new FakeExecutor('kvm-01', [
      { when: /^sysctl/, exitCode: 255, stderr: 'connection lost', effect: () => (dead = true) },
    ]);
    return p;
  };
  const out = await runWithRetry(
    lab,
    options({ reportDir }),
    (e) => events.push(e),
    new AbortController().signal,
    home,
    dying,
  );
  t.is(attempts, 1 + RETRIES);
  t.is(out.result, 'error');
  const said = events.filter((e) => e.type === 'log' && /running the lab once more/.test(e.message));
  t.is(said.length, RETRIES);
  for (let n = 1; n <= RETRIES; n++) {
    t.is(JSON.parse(readFileSync(join(reportDir, `attempt-${n}`, 'report.json'), 'utf8')).result, 'error');
  }
  t.false(existsSync(join(reportDir, `attempt-${RETRIES + 1}`)));
  t.is(JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8')).result, 'error');
  // a run that passes is not tried again
  attempts = 0;
  const ok = await runWithRetry(
    lab,
    options(),
    () => {},
    new AbortController().signal,
    tmpHome(),
    () => {
      attempts++;
      return new FakeProvider(machines());
    },
  );
  t.is(ok.result, 'pass');
  t.is(attempts, 1);
});

test('a guest that never answered a command on its serial console is named; other failures are not', (t) => {
  const evidence = (machine: string, exitCode: number, stderr: string) => ({
    machine,
    argv: ['cat', '/proc/net/arp'],
    exitCode,
    stdout: '',
    stderr,
  });
  const result = (ev: ReturnType<typeof evidence>[]) =>
    ({
      id: 'x',
      kind: 'arp',
      title: '',
      expect: 'pass',
      observed: 'fail',
      status: 'fail',
      reason: '',
      durationMs: 1,
      evidence: ev,
    }) as never;
  t.deepEqual(
    consoleStalls([
      result([evidence('cirros (console)', 124, 'no answer on the serial console')]),
      result([
        evidence('cirros (console)', 124, 'no answer on the serial console'),
        evidence('g2 (console)', 1, 'ping failed'),
      ]),
      result([evidence('kvm-01', 124, 'no answer on the serial console')]),
    ]),
    ['cirros'],
  );
});
