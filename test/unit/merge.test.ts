// virtlab merge: report folders of separate runs (CI jobs) and of matrices into one matrix of a lab.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { parseArgs } from '../../src/cli/args.ts';
import { shardOf } from '../../src/cli/matrix.ts';
import { columnsOf, commandMerge } from '../../src/cli/merge.ts';
import { EXIT } from '../../src/errors.ts';

const run = (lab: string, result: 'pass' | 'fail', kernel: string) => ({
  lab,
  runId: 'r1',
  result,
  durationMs: 1000,
  machines: [{ name: 'kvm-01', role: 'hypervisor', kernel, libvirt: '9.0.0', qemu: '7.2.22' }],
  assertions: [
    {
      id: 'ping-remote',
      kind: 'ping',
      title: 'remote-01 can ping cirros',
      expect: 'pass',
      observed: result,
      status: result,
      reason: result === 'pass' ? '1/1 replies' : '0/1 replies',
      durationMs: 10,
      evidence: [],
    },
  ],
});

function folder(root: string, name: string, report: object): string {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'report.json'), JSON.stringify(report));
  return d;
}

test('runs of CI jobs and a matrix folder become one matrix, columns named after the folders', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'virtlab-merge-'));
  const a = folder(root, 'k61', run('kvm-macvtap', 'pass', '6.1.0'));
  const mx = join(root, 'mx');
  folder(mx, 'k612', run('kvm-macvtap', 'fail', '6.12.0'));
  writeFileSync(join(mx, 'matrix.json'), '{}');
  t.deepEqual(
    [...columnsOf(a), ...columnsOf(mx)].map((c) => c.target),
    ['k61', 'k612'],
  );
  const out = join(root, 'merged');
  const code = commandMerge(parseArgs(['merge', a, mx, '--report-dir', out]));
  t.is(code, EXIT.assertion, 'a failed run makes the merge exit 1');
  const json = JSON.parse(readFileSync(join(out, 'matrix.json'), 'utf8'));
  t.deepEqual(json.assertions, [{ id: 'ping-remote', results: { k61: 'pass', k612: 'fail' } }]);
  t.regex(readFileSync(join(out, 'matrix.md'), 'utf8'), /\| ping-remote \| pass \| FAIL \|/);
  const html = readFileSync(join(out, 'matrix.html'), 'utf8');
  t.regex(html, /<th>k612<div class="v">fail: kvm-01: kernel 6\.12\.0, libvirt 9\.0\.0, QEMU 7\.2\.22<\/div><\/th>/);
  t.regex(html, /<td class="pass">pass<\/td><td class="fail">FAIL<\/td>/);
  t.regex(readFileSync(join(out, 'junit.xml'), 'utf8'), /<testsuite name="k612" tests="1" failures="1"/);
});

test('reports of two labs, two folders of the same name, or a folder with no report are refused', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'virtlab-merge-'));
  const a = folder(root, 'a', run('kvm-macvtap', 'pass', '6.1.0'));
  const b = folder(root, 'b', run('kvm-routed', 'pass', '6.1.0'));
  t.throws(() => commandMerge(parseArgs(['merge', a, b, '--report-dir', join(root, 'o1')])), {
    message: /different labs \(kvm-macvtap, kvm-routed\)/,
  });
  const again = folder(join(root, 'other'), 'a', run('kvm-macvtap', 'pass', '6.1.0'));
  t.throws(() => commandMerge(parseArgs(['merge', a, again, '--report-dir', join(root, 'o2')])), {
    message: /two reports are both named a/,
  });
  t.throws(() => columnsOf(root), { message: /holds no report\.json and no matrix\.json/ });
});

test('matrix --shard i/n: every n-th target from the i-th on, together all of them once', (t) => {
  const targets = ['a', 'b', 'c', 'd', 'e'];
  t.deepEqual(shardOf(targets, undefined), targets);
  t.deepEqual(shardOf(targets, '1/2'), ['a', 'c', 'e']);
  t.deepEqual(shardOf(targets, '2/2'), ['b', 'd']);
  t.deepEqual([1, 2, 3].flatMap((i) => shardOf(targets, `${i}/3`)).sort(), targets);
  t.throws(() => shardOf(targets, '4/3'), { message: /is not i\/n with 1 <= i <= n/ });
  t.throws(() => shardOf(targets, 'x'), { message: /is not i\/n/ });
  t.throws(() => shardOf(targets, '6/6'), { message: /shard 6\/6 has no targets \(the file lists 5\)/ });
});
