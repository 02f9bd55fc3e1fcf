// A class: one lab instance per student (`up --class students.txt`, `down --class`), and the class table
// (`check <lab> --all`): student, score, passed checks and the failing ones; class.csv, class.md and one junit.xml
// per student (named after the student) in --report-dir.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, UsageError } from '../errors.ts';
import { home } from '../host/home.ts';
import { isInstanceName } from '../host/names.ts';
import { claimReportDir } from '../host/report-dir.ts';
import { StateStore } from '../host/state.ts';
import type { Options } from './args.ts';
import { checkInstance, type Graded } from './grade.ts';
import { interrupts } from './interrupts.ts';
import { reportFormats } from './options.ts';

/** Student names, one per line (# comments), each a valid instance name. */
export function readClass(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the class list ${file}: ${(e as Error).message}`);
  }
  const names = text
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
  names.forEach((n, i) => {
    if (!isInstanceName(n))
      throw new UsageError(
        `${file}:${i + 1}: "${n}" cannot be a student's instance name`,
        'lowercase letters, digits and "-", at most 24 characters',
      );
  });
  if (new Set(names).size !== names.length) throw new UsageError(`${file}: a student is listed twice`);
  if (!names.length) throw new UsageError(`${file} lists no students`);
  return names;
}

const csvCell = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

export function classTable(rows: Graded[]): { text: string; csv: string; md: string } {
  const line = (g: Graded) => {
    const failing = g.results.filter((r) => r.status === 'fail').map((r) => r.id);
    const passed = g.results.filter((r) => r.status === 'pass').length;
    return {
      student: g.instance,
      stage: g.checkpoints ? `${g.reached}/${g.checkpoints.length}` : '-',
      score: `${g.score.points}/${g.score.max}`,
      passed: `${passed}/${g.results.length}`,
      failing,
    };
  };
  const lines = rows.map(line);
  // an exercise in stages: how many checkpoints each student has reached
  const staged = rows.some((g) => g.checkpoints);
  const w = Math.max(7, ...lines.map((l) => l.student.length));
  const text = [
    `${'student'.padEnd(w)}  ${staged ? 'stage  ' : ''}score   checks  failing`,
    ...lines.map(
      (l) =>
        `${l.student.padEnd(w)}  ${staged ? `${l.stage.padEnd(5)}  ` : ''}${l.score.padEnd(6)}  ${l.passed.padEnd(6)}  ${l.failing.join(', ') || '-'}`,
    ),
  ].join('\n');
  const csv = [
    `student,${staged ? 'stage,' : ''}points,max,passed,checks,failing`,
    ...rows.map((g, i) => {
      const l = lines[i]!;
      return [
        l.student,
        ...(staged ? [l.stage] : []),
        String(g.score.points),
        String(g.score.max),
        String(g.results.filter((r) => r.status === 'pass').length),
        String(g.results.length),
        l.failing.join(' '),
      ]
        .map(csvCell)
        .join(',');
    }),
  ].join('\n');
  const md = [
    `| student |${staged ? ' stage |' : ''} score | checks | failing |`,
    `|---|${staged ? '---|' : ''}---|---|---|`,
    ...lines.map(
      (l) =>
        `| ${l.student} |${staged ? ` ${l.stage} |` : ''} ${l.score} | ${l.passed} | ${l.failing.join(', ') || '-'} |`,
    ),
  ].join('\n');
  return { text, csv: `${csv}\n`, md: `${md}\n` };
}

/**
 * The instances a class check grades: the students of --class (each must be up, as an instance of this lab), or
 * with --all every instance of the lab that `up` left up (a `run` still going is nobody's exercise).
 */
function classStores(o: Options, lab: string): StateStore[] {
  const kept = StateStore.list(home()).filter((s) => s.state.lab === lab && s.state.status === 'kept');
  if (o.class === undefined) {
    if (!kept.length)
      throw new UsageError(`no instance of lab ${lab} is up`, `virtlab up ${lab} --class <students.txt>`);
    return kept;
  }
  const names = readClass(o.class);
  const missing = names.filter((n) => !kept.some((s) => s.state.instance === n));
  if (missing.length)
    throw new UsageError(
      `not up as instances of lab ${lab}: ${missing.join(', ')}`,
      `virtlab up ${lab} --class ${o.class} brings the missing ones up (the others are left as they are)`,
    );
  return names.map((n) => kept.find((s) => s.state.instance === n)!);
}

/** `virtlab check <lab> --all` or `--class <file>`: each student's instance graded; the class table. */
export async function checkClass(o: Options): Promise<number> {
  const lab = o.args[0];
  if (o.args.length !== 1)
    throw new UsageError('check --all and --class need the lab', 'virtlab check kvm-macvtap --all');
  if (o.all && o.class !== undefined) throw new UsageError('check takes either --all or --class, not both');
  const stores = classStores(o, lab!);
  if (o.reportDir) claimReportDir(o.reportDir);
  const formats = reportFormats(o);
  const { signal, dispose, exitCode: stopped } = interrupts();
  const graded: Graded[] = [];
  try {
    for (const st of stores.sort((a, b) => a.state.instance.localeCompare(b.state.instance))) {
      if (signal.aborted) break;
      const dir = o.reportDir ? join(o.reportDir, st.state.instance) : undefined;
      if (dir) mkdirSync(dir, { recursive: true, mode: 0o700 });
      graded.push(await checkInstance(st, { reportDir: dir }, formats, () => {}, signal));
      if (!o.json) process.stderr.write(`  graded ${st.state.instance}\n`);
    }
  } finally {
    dispose();
  }
  const t = classTable(graded);
  if (o.reportDir) {
    writeFileSync(join(o.reportDir, 'class.csv'), t.csv);
    writeFileSync(join(o.reportDir, 'class.md'), t.md);
  }
  if (o.json)
    console.log(
      JSON.stringify(
        graded.map((g) => ({
          student: g.instance,
          score: g.score,
          failing: g.results.filter((r) => r.status === 'fail').map((r) => r.id),
        })),
        null,
        2,
      ),
    );
  else {
    console.log(t.text);
    if (o.reportDir) console.log(`class.csv, class.md and each student's junit.xml in ${o.reportDir}`);
  }
  return stopped() ?? (graded.some((g) => g.exitCode !== EXIT.ok) ? EXIT.assertion : EXIT.ok);
}
