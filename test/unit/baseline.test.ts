// Baselines: samples pooled over runs into a median and a noise band from their own spread, later figures judged
// against them (regressions fail, improvements and no-band figures are only shown), and baseline files checked.
import test from 'ava';
import {
  type Baseline,
  baselineFrom,
  combinedDf,
  judge,
  median,
  parseBaseline,
  robustSigma,
  tFor,
  verdictOf,
} from '../../src/report/baseline.ts';
import type { AssertionResult, Figure } from '../../src/report/events.ts';
import type { RunReport } from '../../src/report/run-report.ts';

const tput = (samples: number[]): Figure => ({
  name: 'throughput',
  value: median(samples),
  unit: 'Mbit/s',
  better: 'higher',
  samples,
});

function result(id: string, figures: Figure[], expect: 'pass' | 'fail' = 'pass'): AssertionResult {
  return {
    id,
    kind: 'throughput',
    title: id,
    expect,
    observed: expect,
    status: 'pass',
    reason: '500 Mbit/s to 10.0.0.2',
    durationMs: 1,
    evidence: [],
    figures,
  };
}

const report = (runId: string, figures: Figure[]): RunReport =>
  ({
    lab: 'impairment',
    runId,
    startedAt: '2026-12-02T10:00:00Z',
    provider: 'netns',
    result: 'pass',
    machines: [{ name: 'kvm-01', role: 'hypervisor', ram: 1, vcpu: 1, kernel: '6.1.0' }],
    assertions: [
      result('tcp', figures),
      result('other', [{ name: 'cpu-client', value: 3, unit: '%', better: 'lower' }]),
    ],
  }) as unknown as RunReport;

test('median and the robust standard deviation (1.4826 x MAD) ignore an outlier', (t) => {
  t.is(median([3, 1, 2]), 2);
  t.is(median([4, 1, 3, 2]), 2.5);
  t.is(robustSigma([10, 10, 10, 10]), 0);
  const s = robustSigma([100, 102, 98, 101, 99, 5000]);
  t.true(s > 1 && s < 3, String(s));
});

const base = baselineFrom('main', [report('r1', [tput([500, 520, 480])]), report('r2', [tput([510, 490, 505])])]);

test('a baseline pools the samples of every run; figures without samples are not kept', (t) => {
  t.is(base.lab, 'impairment');
  t.is(base.runs.length, 2);
  t.deepEqual(Object.keys(base.figures), ['tcp']);
  const f = base.figures.tcp!.throughput!;
  t.is(f.samples.length, 6);
  t.is(f.median, 502.494, 'the median of the logarithms: between 500 and 505');
  t.is(f.scale, 'log');
  t.deepEqual(f.runMedians, [500, 505]);
  // the band is a factor either way of the median (log scale), wide from two runs of three samples
  t.true(f.low < 502.5 && f.high > 502.5);
  t.is(Number((f.median / f.low).toFixed(1)), Number((f.high / f.median).toFixed(1)));
  t.true(f.low > 200 && f.high < 1300, `${f.low}-${f.high}`);
});

test('the band narrows as runs and samples add up, and widens with the noise between runs', (t) => {
  const runs = (medians: number[]) =>
    baselineFrom(
      'b',
      medians.map((m, i) => report(`r${i}`, [tput([m * 0.98, m, m * 1.02, m * 0.99, m * 1.01])])),
    ).figures.tcp!.throughput!;
  const width = (f: { low: number; high: number }) => f.high / f.low;
  const three = runs([500, 510, 490]);
  const ten = runs([500, 510, 490, 505, 495, 500, 510, 490, 505, 495]);
  t.true(width(ten) < width(three), `${width(ten)} < ${width(three)}`);
  const noisy = runs([300, 700, 500]);
  t.true(width(noisy) > width(three) * 2, `${width(noisy)} > 2 x ${width(three)}`);
  // a linear band where a sample is not positive (a loss of 0 %)
  const zero = baselineFrom('z', [report('r', [{ ...tput([0, 1, 2]), name: 'loss' }])]).figures.tcp!.loss!;
  t.is(zero.scale, 'linear');
});

test("Student's t at 99 %, never under 3 sigma, and Welch-Satterthwaite's degrees of freedom", (t) => {
  t.is(tFor(2), 6.965);
  t.is(tFor(4), 3.747);
  t.is(tFor(10), 3);
  t.is(tFor(1000), 3);
  t.is(tFor(0), Number.POSITIVE_INFINITY);
  t.is(combinedDf(1, 10, 0, 2), 10);
  const df = combinedDf(1, 27, 1, 2);
  t.true(df > 2 && df < 27, String(df));
});

test('within the band, below it (a regression), above it (an improvement)', (t) => {
  const b = base.figures.tcp!.throughput!;
  t.is(verdictOf(tput([495, 505, 500]), b, 'main').verdict, 'within');
  t.is(verdictOf(tput([20, 21, 19]), b, 'main').verdict, 'regression');
  t.is(verdictOf(tput([2900, 2910, 2905]), b, 'main').verdict, 'improvement');
  // for a figure where lower is better (round trips), higher is the regression
  const rtt = { ...b, better: 'lower' as const };
  t.is(verdictOf({ ...tput([2900, 2910, 2905]), better: 'lower' }, rtt, 'main').verdict, 'regression');
  // too few samples: no band, never judged
  const one = baselineFrom('x', [report('r', [tput([500])])]).figures.tcp!.throughput!;
  t.is(verdictOf(tput([1]), one, 'x').verdict, 'no-band');
});

test('judge: a regression fails a passing assertion and says what and by how much; others only carry verdicts', (t) => {
  const slow = judge(result('tcp', [tput([20, 21, 19])]), base);
  t.is(slow.status, 'fail');
  t.regex(
    slow.reason,
    /regression: throughput 20 Mbit\/s \(median\) is below baseline main's 502\.494 Mbit\/s \([\d.]+–[\d.]+\)$/,
  );
  t.is(slow.figures![0]!.baseline!.verdict, 'regression');
  const fine = judge(result('tcp', [tput([500, 501, 499])]), base);
  t.is(fine.status, 'pass');
  t.is(fine.figures![0]!.baseline!.verdict, 'within');
  // an expected failure is not failed again by the baseline; an assertion the baseline lacks is untouched
  t.is(judge(result('tcp', [tput([20, 21, 19])], 'fail'), base).status, 'pass');
  const unknown = result('new', [tput([1, 2, 3])]);
  t.is(judge(unknown, base), unknown);
});

test('baseline files: what a judge needs is checked', (t) => {
  t.deepEqual(parseBaseline(JSON.stringify(base)), JSON.parse(JSON.stringify(base)) as Baseline);
  t.regex((parseBaseline('{') as { error: string }).error, /^not JSON/);
  t.deepEqual(parseBaseline(JSON.stringify({ ...base, version: 9 })), { error: 'version 9, not 2' });
  const broken = { ...base, figures: { tcp: { throughput: { median: 'fast' } } } };
  t.deepEqual(parseBaseline(JSON.stringify(broken)), {
    error: 'figure throughput of tcp lacks median, low, high, samples or better',
  });
});
