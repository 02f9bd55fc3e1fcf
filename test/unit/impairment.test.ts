// Impairment and round trips: netem steps read from a lab into tc's words, their undo, and RTT percentiles from
// ping's output (captured from a guest pinging through a real 100 ms netem delay) checked against a lab's bounds.
import test from 'ava';
import { undoArgv } from '../../src/hypervisor/commands.ts';
import type { PingAssertion } from '../../src/kinds/checks/ping.ts';
import { brokenBounds, parseBound, parseRtts, rttFigures, rttSummary, stat } from '../../src/kinds/checks/rtt.ts';
import type { NetemStep } from '../../src/kinds/steps/netem.ts';
import { netemArgv, netemParams } from '../../src/kinds/steps/netem.ts';
import { loadLab } from '../../src/lab/load.ts';
import type { Lab } from '../../src/lab/model.ts';
import { createProvider } from '../../src/providers/index.ts';
import { hostNeeds, requirementProblems } from '../../src/runner/requirements.ts';
import { captured } from '../helpers/fakes.ts';

const delayed = parseRtts(captured('ping-busybox-delayed.txt'));

test("each echo's time from busybox and iputils output", (t) => {
  t.is(delayed.length, 10);
  t.is(delayed[0], 102.997);
  t.deepEqual(
    parseRtts(
      '64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.045 ms\n64 bytes from 10.0.0.2: icmp_seq=2 ttl=64 time=1.12 ms',
    ),
    [0.045, 1.12],
  );
  t.deepEqual(parseRtts('10 packets transmitted, 0 received'), []);
});

test('percentiles by nearest rank', (t) => {
  const xs = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5];
  t.is(stat(xs, 'p50'), 5);
  t.is(stat(xs, 'p90'), 9);
  t.is(stat(xs, 'p99'), 10);
  t.is(stat(xs, 'min'), 1);
  t.is(stat(xs, 'max'), 10);
  t.is(stat([7], 'p50'), 7);
});

test('bounds: parsed from the lab, and the broken ones named with what was measured', (t) => {
  t.deepEqual(parseBound('p50', '>= 100 ms'), { stat: 'p50', op: '>=', ms: 100 });
  t.deepEqual(parseBound('max', '<400ms'), { stat: 'max', op: '<', ms: 400 });
  t.is(parseBound('p50', 'about 100 ms'), undefined);
  const delayedBounds = [parseBound('p50', '>= 100 ms')!, parseBound('max', '< 400 ms')!];
  t.deepEqual(brokenBounds(delayed, delayedBounds), []);
  t.deepEqual(brokenBounds(delayed, [parseBound('p50', '< 50 ms')!]), ['p50 102.578 ms is not < 50 ms']);
  t.is(rttSummary(delayed, delayedBounds), 'p50 102.578 ms, max 103.266 ms over 10 echoes');
  const figs = rttFigures(delayed, delayedBounds);
  t.deepEqual(
    figs.map((f) => [f.name, f.value, f.samples?.length]),
    [
      ['rtt-p50', 102.578, 10],
      ['rtt-max', 103.266, undefined],
    ],
  );
});

const lab = loadLab('impairment');

test('the impairment lab: a ping with bounds sends ten echoes; netem in tc words, removed only while it is netem', (t) => {
  const rtt = lab.assertions.find((a) => a.id === 'rtt-delayed') as PingAssertion;
  t.is(rtt.count, 10);
  t.deepEqual(rtt.rtt, [
    { stat: 'p50', op: '>=', ms: 100 },
    { stat: 'max', op: '<', ms: 400 },
  ]);
  const step = lab.steps.find((s) => s.id === 'delay') as NetemStep;
  t.deepEqual(netemArgv(step.dev!, step.params), [
    'tc',
    'qdisc',
    'replace',
    'dev',
    'eth1',
    'root',
    'netem',
    'delay',
    '100ms',
  ]);
  const undo = undoArgv({ type: 'del-netem', dev: 'eth1' });
  t.true('argv' in undo && undo.argv.join(' ').includes('grep -q "qdisc netem" && tc qdisc del dev "$0" root'));
  t.true('refused' in undoArgv({ type: 'del-netem', dev: 'eth1; reboot' }));
});

test('netem parameters in the order tc wants them; a rate in tc units', (t) => {
  t.deepEqual(
    netemParams({
      on: 'r',
      delay: '100ms',
      jitter: '10ms',
      loss: '1%',
      duplicate: '0.5%',
      reorder: '25%',
      rate: '10 Mbit/s',
      limit: 500,
    }),
    ['delay', '100ms', '10ms', 'loss', '1%', 'duplicate', '0.5%', 'reorder', '25%', 'rate', '10Mbit', 'limit', '500'],
  );
  t.deepEqual(netemParams({ on: 'r', rate: '512kbit' }), ['rate', '512kbit']);
});

test('preflight: netem on a namespace machine needs it of this host; on a VM machine it does not', async (t) => {
  const netns = createProvider('netns');
  // the impairment lab makes remote-01 a VM: nothing is asked of this host's kernel
  t.deepEqual(hostNeeds(lab, netns), []);
  const asNamespace = { ...lab, machines: lab.machines.map((m) => ({ ...m, provider: undefined })) } as Lab;
  const problems = await requirementProblems(asNamespace, netns, async () => new Map([['netem' as const, false]]));
  t.deepEqual(
    problems.map((p) => p.what),
    [
      "step delay (netem) on remote-01 needs netem (delay, loss, rate: sch_netem), which this host's kernel lacks (remote-01 is a namespace sharing it)",
    ],
  );
  t.regex(problems[0]!.hint!, /^make remote-01 a VM for this lab/);
});
