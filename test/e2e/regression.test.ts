// Regression at scale, end to end on namespace machines: bisect finds where an ordered list of targets flips (a
// variant that breaks from the third target on) in ceil(log2 n) + 1 runs; a matrix split in shards (one CI job
// each) and merged again gives the whole matrix.

import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { virtlab } from '../helpers/host.ts';

const LAB = 'test/fixtures/labs/flip.yml';
const tmp = () => mkdtempSync(join(tmpdir(), 'virtlab-regress-'));

function targets(variants: string[]): string {
  const file = join(tmp(), 'targets.yml');
  const lines = ['targets:', ...variants.map((v, i) => `  t${i + 1}: { provider: netns, variant: ${v} }`)];
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

test.serial('bisect: six targets breaking from the third on, found in four runs', (t) => {
  const file = targets(['good', 'good', 'bad', 'bad', 'bad', 'bad']);
  const dir = join(tmp(), 'bisect');
  const r = virtlab(['bisect', LAB, '--targets', file, '--report-dir', dir]);
  t.is(r.code, 0, r.out);
  t.regex(r.stdout, /bisecting the lab over 6 targets \(at most 5 runs\)/);
  t.regex(r.stdout, /the lab flips from pass to fail between t2 and t3 \(4 runs; reports in /);
  // the runs it made, each with its report: both ends, then the middles
  t.deepEqual(
    [...r.stdout.matchAll(/^ {2}(t\d): (pass|fail)$/gm)].map((m) => `${m[1]} ${m[2]}`),
    ['t1 pass', 't6 fail', 't3 fail', 't2 pass'],
  );
  t.deepEqual(
    readdirSync(dir)
      .filter((d) => existsSync(join(dir, d, 'report.json')))
      .sort(),
    ['t1', 't2', 't3', 't6'],
  );
  // following one assertion gives the same pair
  const a = virtlab(['bisect', LAB, '--targets', file, '--assertion', 'works', '--report-dir', join(tmp(), 'b2')]);
  t.regex(a.stdout, /assertion works flips from pass to fail between t2 and t3/);
  t.is(virtlab(['bisect', LAB, '--targets', file, '--assertion', 'nosuch']).code, 2);
});

test.serial('a matrix in two shards (two CI jobs), merged into the whole matrix', (t) => {
  const file = targets(['good', 'bad', 'good']);
  const root = tmp();
  const s1 = virtlab(['matrix', LAB, '--targets', file, '--shard', '1/2', '--report-dir', join(root, 's1')]);
  const s2 = virtlab(['matrix', LAB, '--targets', file, '--shard', '2/2', '--report-dir', join(root, 's2')]);
  t.is(s1.code, 0, s1.out);
  t.is(s2.code, 1, s2.out);
  t.regex(s1.stdout, /across 2 targets/);
  t.regex(s2.stdout, /across 1 targets/);
  const m = virtlab(['merge', join(root, 's1'), join(root, 's2'), '--report-dir', join(root, 'merged')]);
  t.is(m.code, 1, m.out);
  const json = JSON.parse(readFileSync(join(root, 'merged', 'matrix.json'), 'utf8'));
  t.deepEqual(json.assertions, [{ id: 'works', results: { t1: 'pass', t3: 'pass', t2: 'fail' } }]);
  t.regex(readFileSync(join(root, 'merged', 'matrix.html'), 'utf8'), /<td class="fail">FAIL<\/td>/);
});
