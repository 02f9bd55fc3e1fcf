// The throughput check's pure parts: iperf3's JSON (captured from the real tool) read into figures, rates as labs
// write them, and the command lines; and the check run against fake machines (its control flow and its verdicts).
import test from 'ava';
import { runAssertion } from '../../src/kinds/checks/index.ts';
import {
  clientArgv,
  formatMbps,
  iperfFigures,
  parseIperf,
  parseRate,
  serverArgv,
} from '../../src/kinds/checks/iperf.ts';
import type { ThroughputAssertion } from '../../src/kinds/checks/throughput.ts';
import { loadLab } from '../../src/lab/load.ts';
import { missingTools } from '../../src/runner/requirements.ts';
import { captured, FakeExecutor, fakeSession } from '../helpers/fakes.ts';

test('iperf3 TCP: received rate, each interval, retransmits and both CPUs', (t) => {
  const r = parseIperf(captured('iperf3-tcp.json'), 'tcp');
  if ('error' in r) return t.fail(r.error);
  t.is(r.mbps, 18727.47);
  t.is(r.samples.length, 4);
  t.true(r.samples.every((x) => x > 1000));
  t.is(r.retransmits, 21481);
  t.is(r.lossPct, undefined);
  t.is(r.cpuClient, 88.2);
  t.is(r.cpuServer, 38.8);
  t.deepEqual(
    iperfFigures(r).map((f) => `${f.name}:${f.better}`),
    ['throughput:higher', 'retransmits:lower', 'cpu-client:lower', 'cpu-server:lower'],
  );
});

test("iperf3 UDP: the receiver's rate, loss and jitter", (t) => {
  const r = parseIperf(captured('iperf3-udp.json'), 'udp');
  if ('error' in r) return t.fail(r.error);
  t.is(r.mbps, 199.9);
  t.is(r.lossPct, 0);
  t.is(r.jitterMs, 0.005);
  t.is(r.retransmits, undefined);
  t.deepEqual(
    iperfFigures(r).map((f) => f.name),
    ['throughput', 'loss', 'jitter', 'cpu-client', 'cpu-server'],
  );
});

test("iperf3's own error and output that is not its JSON are errors, not figures", (t) => {
  t.deepEqual(parseIperf('{"start":{},"error":"unable to connect to server: Connection refused"}', 'tcp'), {
    error: 'iperf3: unable to connect to server: Connection refused',
  });
  t.deepEqual(parseIperf('sh: iperf3: not found\n', 'tcp'), {
    error: 'iperf3 printed no result: sh: iperf3: not found',
  });
  t.deepEqual(parseIperf('{"end":{}}', 'tcp'), { error: 'iperf3 reported no received total' });
});

test('rates as labs write them', (t) => {
  t.is(parseRate('500 Mbit/s'), 500e6);
  t.is(parseRate('1.5Gbit/s'), 1.5e9);
  t.is(parseRate('800k'), 800e3);
  t.is(parseRate('100M'), 100e6);
  t.is(parseRate('20 mbps'), 20e6);
  t.is(parseRate('fast'), undefined);
  t.is(parseRate('0 Mbit/s'), undefined);
  t.is(formatMbps(1500), '1.5 Gbit/s');
  t.is(formatMbps(12.345), '12.3 Mbit/s');
  t.is(formatMbps(1.234), '1.23 Mbit/s');
});

test('command lines: a one-off daemonised server with a pid file; the client in JSON', (t) => {
  t.deepEqual(serverArgv('/tmp/p.pid', 60), [
    'iperf3',
    '-s',
    '-1',
    '-D',
    '-p',
    '5201',
    '--idle-timeout',
    '60',
    '-I',
    '/tmp/p.pid',
  ]);
  const udp = clientArgv(
    { protocol: 'udp', seconds: 3, streams: 2, reverse: true, bitrate: 5e6 },
    '10.0.0.2',
    '10.0.0.1',
  );
  t.deepEqual(udp, [
    'iperf3',
    '-c',
    '10.0.0.2',
    '-p',
    '5201',
    '-J',
    '-t',
    '3',
    '-P',
    '2',
    '--connect-timeout',
    '3000',
    '-R',
    '-u',
    '-b',
    '5000000',
    '-B',
    '10.0.0.1',
  ]);
});

const lab = loadLab('throughput-modes');
const external = lab.assertions.find((a) => a.id === 'bridge-external') as ThroughputAssertion;

test('the lab resolves a throughput assertion with its defaults', (t) => {
  t.like(external, { from: 'bridge-a', to: { type: 'machine', name: 'remote-01' }, family: 4 });
  t.deepEqual(external.test, { protocol: 'tcp', seconds: 3, streams: 1, reverse: false });
});

function session(clientOut: string) {
  const remote = new FakeExecutor('remote-01', [{ when: /^iperf3 -s/, stdout: '' }, { when: /^sh -c/ }]);
  const guest = new FakeExecutor('bridge-a', [
    { when: /^timeout -s KILL 15 iperf3 -c 192\.168\.100\.102/, stdout: clientOut },
  ]);
  const s = fakeSession(lab, { 'remote-01': remote });
  s.consoles.set('bridge-a', guest);
  return { s, remote, guest };
}

test('the check starts the server, measures from the client, stops the server, and reports figures', async (t) => {
  const { s, remote } = session(captured('iperf3-tcp.json'));
  const r = await runAssertion({ ...external, atLeast: 100 } as ThroughputAssertion, s);
  t.is(r.status, 'pass', r.reason);
  t.regex(r.reason, /^18\.73 Gbit\/s to 192\.168\.100\.102 \(21481 retransmits/);
  t.is(r.figures?.[0]?.name, 'throughput');
  t.is(r.figures?.[0]?.samples?.length, 4);
  t.regex(
    remote.calls[0]!.join(' '),
    /^iperf3 -s -1 -D -p 5201 --idle-timeout 60 -I \/tmp\/virtlab-iperf3-[0-9a-f]{8}\.pid$/,
  );
  t.is(remote.calls.at(-1)![0], 'sh', 'the server is stopped by its pid file');
});

test('below the floor fails and says by how much; an iperf3 error cannot be checked', async (t) => {
  const slow = await runAssertion(
    { ...external, atLeast: 50_000 } as ThroughputAssertion,
    session(captured('iperf3-tcp.json')).s,
  );
  t.is(slow.status, 'fail');
  t.regex(slow.reason, /below the floor of 50 Gbit\/s/);
  const broken = await runAssertion(external, session('{"error":"unable to connect to server: No route to host"}').s);
  t.is(broken.status, 'fail');
  t.regex(broken.reason, /No route to host/);
});

test('preflight: iperf3 missing on this host is named with its package, only when a namespace machine runs it', (t) => {
  const ns = { sharesHostKernel: () => true };
  const [p, ...more] = missingTools(lab, ns, (b) => b !== 'iperf3');
  t.is(more.length, 0);
  // guest-to-guest checks use the guest image's iperf3; the others run the host's on remote-01
  t.is(
    p!.what,
    "assertions bridge-external, vepa-external, lbr-external, ovs-external run iperf3 on a namespace machine, which runs this host's programs, and this host lacks it",
  );
  t.is(p!.hint, 'apt-get install -y iperf3');
  t.deepEqual(
    missingTools(lab, { sharesHostKernel: () => false }, () => false),
    [],
  );
  t.deepEqual(
    missingTools(lab, ns, () => true),
    [],
  );
});

test('a client that stalls is killed by its own deadline and measured again; stalling every time is reported', async (t) => {
  let hangs = 1;
  const remote = new FakeExecutor('remote-01', [{ when: /^iperf3 -s/, stdout: '' }, { when: /^sh -c/ }]);
  const guest = new FakeExecutor('bridge-a', [
    {
      when: /^timeout -s KILL 15 iperf3 -c/,
      get exitCode() {
        return hangs-- > 0 ? 137 : 0;
      },
      get stdout() {
        return hangs >= 0 ? '' : captured('iperf3-tcp.json');
      },
    },
  ]);
  const s = fakeSession(lab, { 'remote-01': remote });
  s.consoles.set('bridge-a', guest);
  const r = await runAssertion(external, s);
  t.is(r.status, 'pass', r.reason);
  t.is(guest.calls.length, 2);
  t.is(remote.calls.filter((c) => c[0] === 'iperf3').length, 2, 'a fresh server for the second attempt');
  hangs = 5;
  const stuck = await runAssertion(external, s);
  t.is(stuck.status, 'fail');
  t.is(stuck.reason, 'cannot check: iperf3 did not finish within 15 s (killed)');
});
