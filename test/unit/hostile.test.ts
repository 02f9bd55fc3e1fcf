// Hostile input (test/fixtures/hostile/): every case is refused at validate with its golden message and position,
// or, for the few that are legitimate (a command with shell syntax or escape sequences in its arguments), accepted
// and then shown safely. Nothing here needs root or creates anything.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { explain } from '../../src/cli/course.ts';
import { formatPlan } from '../../src/cli/definitions.ts';
import { formatDiagnostic } from '../../src/errors.ts';
import { stepCommands } from '../../src/kinds/steps/index.ts';
import { loadLab, validate } from '../../src/lab/load.ts';
import { buildPlan } from '../../src/runner/plan.ts';
import { displayLine } from '../../src/transport/quote.ts';

const dir = 'test/fixtures/hostile';
const AUX = ['files', 'links'];
const fixtures = readdirSync(dir).flatMap((f) => {
  if (f.endsWith('.yml')) return [join(dir, f)];
  if (AUX.includes(f) || !statSync(join(dir, f)).isDirectory()) return [];
  return [join(dir, f, `${f}.yml`)]; // a lab with its own machines.yml beside it
});

/** Legitimate input that looks hostile: accepted, and shown safely (tested below). */
const ACCEPTED = ['control-ansi-argv', 'shell-metachar-argv', 'link-inside-lab-xml', 'json-object-lab'];

test('there are at least 100 hostile inputs', (t) => {
  t.true(fixtures.length >= 100, `only ${fixtures.length}`);
});

for (const f of fixtures) {
  test(`hostile: ${f}`, (t) => {
    const { diagnostics } = validate([f]);
    const name = f
      .split('/')
      .pop()!
      .replace(/\.yml$/, '');
    const actual = diagnostics.length ? `${diagnostics.map(formatDiagnostic).join('\n')}\n` : '(valid)\n';
    const golden = f.replace(/\.yml$/, '.expected');
    if (process.env.UPDATE_GOLDEN || !existsSync(golden)) writeFileSync(golden, actual);
    t.is(actual, readFileSync(golden, 'utf8'));
    t.is(diagnostics.length === 0, ACCEPTED.includes(name), 'refused unless it is one of the deliberately accepted');
    for (const d of diagnostics) t.true(d.line >= 1 && d.col >= 1, 'every problem has a position');
  });
}

test('limits: a file over 4 MiB, a FIFO and a device are refused before they are read', (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'virtlab-limits-'));
  const big = join(tmp, 'big.yml');
  writeFileSync(big, `description: "${'x'.repeat(5 * 1048576)}"\n`);
  execFileSync('mkfifo', [join(tmp, 'fifo.yml')]);
  const msg = (p: string) => validate([p]).diagnostics.map(formatDiagnostic).join('\n');
  t.regex(msg(big), /big\.yml:1:1: cannot read: is 5\.0 MiB; the limit is 4 MiB/);
  t.regex(
    msg(join(tmp, 'fifo.yml')),
    /fifo\.yml:1:1: cannot read: is not a regular file \(a device, socket or FIFO\): refused/,
  );
  t.regex(msg('/dev/zero'), /\/dev\/zero:1:1: cannot read: is not a regular file/);
});

test('the CLI exits 2 for hostile input, without a trace (an alias bomb, a deep nesting, a huge file)', (t) => {
  for (const f of ['yaml-alias-bomb', 'yaml-deep-nesting', 'machine-ram-huge']) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'validate', join(dir, `${f}.yml`)], {
      encoding: 'utf8',
    });
    t.is(r.status, 2, r.stderr);
    t.notRegex(r.stderr, /at \S+ \(|internal error/, 'no stack trace');
  }
});

/** What bash makes of a displayed command line: its words, exactly. */
function bashWords(line: string): string[] {
  const out = execFileSync('bash', ['-c', `printf '%s\\0' ${line}`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

test('escape sequences in a lab reach neither the terminal nor the report raw; a paste gives back the argv', (t) => {
  const lab = loadLab(join(dir, 'control-ansi-argv.yml'));
  const argv = stepCommands(lab.steps[0]!)[0]!;
  t.true(argv[1]!.includes('\x1b'), 'the argument itself keeps its escape');
  for (const text of [explain(lab), formatPlan(buildPlan(lab))]) {
    t.false(text.includes('\x1b'), 'no raw ESC in what is printed');
    t.true(text.includes(`$'\\x1b[2J\\x1b[31mFAIL'`));
  }
  t.deepEqual(bashWords(displayLine(argv)), argv);
});

test('shell syntax in an argv is shown quoted: pasted into bash it runs as the same single words, nothing else', (t) => {
  const lab = loadLab(join(dir, 'shell-metachar-argv.yml'));
  const argv = stepCommands(lab.steps[0]!)[0]!;
  const shown = explain(lab)
    .split('\n')
    .find((l) => l.trim().startsWith('$ '))!
    .trim()
    .slice(2);
  t.is(shown, displayLine(argv));
  t.deepEqual(bashWords(shown), argv);
  t.false(existsSync(`/tmp/virtlab-pwned-${process.getuid?.()}`), 'printing it ran nothing');
});
