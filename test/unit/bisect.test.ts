// bisect: the binary search over an ordered list of targets, on fake outcomes (the real runs are in
// test/e2e/regression.test.ts).
import test from 'ava';
import { bisect, maxRuns, type Outcome, outcomeOf } from '../../src/cli/bisect.ts';

const flipAt =
  (k: number, from: Outcome = 'pass') =>
  async (i: number): Promise<Outcome> =>
    i < k ? from : from === 'pass' ? 'fail' : 'pass';

test('finds the flip wherever it is, within the promised number of runs', async (t) => {
  for (let n = 2; n <= 17; n++)
    for (let k = 1; k < n; k++) {
      const items = Array.from({ length: n }, (_, i) => i);
      const r = await bisect(items, flipAt(k));
      t.deepEqual([r.last, r.first], [k - 1, k], `n=${n} k=${k}`);
      t.true(r.ran.length <= maxRuns(n), `n=${n} k=${k}: ${r.ran.length} runs`);
      t.is(new Set(r.ran).size, r.ran.length, 'no target runs twice');
    }
});

test('six targets breaking from the third on: four runs, ceil(log2 6) + 1', async (t) => {
  const r = await bisect(['t1', 't2', 't3', 't4', 't5', 't6'], async (x) => (x < 't3' ? 'pass' : 'fail'));
  t.deepEqual(r.ran, ['t1', 't6', 't3', 't2']);
  t.is(r.ran.length, Math.ceil(Math.log2(6)) + 1);
  t.deepEqual([r.last, r.first, r.from, r.to], ['t2', 't3', 'pass', 'fail']);
});

test('a fix is found the same way; ends that agree are reported as no flip', async (t) => {
  const fixed = await bisect([0, 1, 2, 3], flipAt(2, 'fail'));
  t.deepEqual([fixed.from, fixed.to, fixed.first], ['fail', 'pass', 2]);
  const none = await bisect([0, 1, 2], async () => 'pass');
  t.is(none.first, undefined);
  t.deepEqual(none.ran, [0, 2]);
});

test("a run's outcome: the lab's result or one assertion's status; a run that could not happen stops the search", (t) => {
  const report = { result: 'fail', assertions: [{ id: 'a', status: 'pass' }] } as never;
  t.is(outcomeOf({ target: 'x', report }), 'fail');
  t.is(outcomeOf({ target: 'x', report }, 'a'), 'pass');
  t.throws(() => outcomeOf({ target: 'x', report }, 'b'), { message: /has no assertion b/ });
  t.throws(() => outcomeOf({ target: 'x', error: 'host not ready' }), {
    message: /target x could not run: host not ready/,
  });
});
