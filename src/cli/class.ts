// A class: one lab instance per student (`up --class students.txt`, `down --class`), and the class table
// (`check <lab> --all`): student, score, passed checks and the failing ones; class.csv, class.md and one junit.xml
// per student (named after the student) in --report-dir.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, freemem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EXIT, UsageError } from '../errors.ts';
import { home } from '../host/home.ts';
import { existingInstance } from '../host/instance.ts';
import { isInstanceName } from '../host/names.ts';
import { claimReportDir } from '../host/report-dir.ts';
import { StateStore } from '../host/state.ts';
import { loadLab } from '../lab/load.ts';
import type { Lab } from '../lab/model.ts';
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

/** What one student's instance of the lab holds in memory, roughly: its guests, its VM machines, each machine's daemons. */
export function classFootprintMiB(lab: Lab): number {
  const vms = lab.machines.filter((m) => m.provider === 'vm').reduce((n, m) => n + m.ram, 0);
  return lab.guests.reduce((n, g) => n + g.ram, 0) + vms + 60 * lab.machines.length;
}

/** How many students' labs to bring up at once, and how many the host's free memory holds at all. */
export function classPlan(students: number, footprintMiB: number, freeMiB: number, cores: number) {
  const fits = Math.max(0, Math.floor(freeMiB / Math.max(1, footprintMiB)));
  return { fits: Math.min(students, fits), parallel: Math.max(1, Math.min(students, cores, fits || 1)) };
}

/** One `virtlab up <lab> --name <student>` in a process of its own, its lines prefixed with the student. */
function upOne(o: Options, lab: string, name: string): Promise<number> {
  const argv = [...process.execArgv, process.argv[1]!, 'up', lab, '--name', name];
  for (const [flag, v] of [
    ['--provider', o.provider],
    ['--kernel', o.kernel],
    ['--image', o.image],
    ['--inventory', o.inventory],
    ['--provisioner', o.provisioner],
    ['--until', o.until],
    ['--variant', o.variant],
  ] as const)
    if (v !== undefined) argv.push(flag, v);
  for (const s of o.skip) argv.push('--skip', s);
  if (o.break) argv.push('--break');
  if (o.showSolution) argv.push('--show-solution');
  if (o.json) argv.push('--json');
  const child = spawn(process.execPath, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  const prefix = (stream: NodeJS.ReadableStream, out: NodeJS.WriteStream) =>
    createInterface({ input: stream }).on('line', (l) => out.write(o.json ? `${l}\n` : `[${name}] ${l}\n`));
  prefix(child.stdout, process.stdout);
  prefix(child.stderr, process.stderr);
  return new Promise((res) => child.on('close', (c) => res(c ?? EXIT.interrupted)));
}

/**
 * `up <lab> --class students.txt`: one instance per student, named after them, as many at once as the host's cores
 * allow and only as many as its free memory holds (the rest are named, not started). Each student's hand-out with
 * --handout.
 */
export async function upClass(o: Options): Promise<number> {
  if (o.name) throw new UsageError('up --class names each instance after its student: leave out --name');
  if (o.reportDir)
    throw new UsageError("up --class keeps each student's run in its own folder: leave out --report-dir");
  const names = readClass(o.class!);
  const ref = o.args[0]!;
  const lab = loadLab(ref, undefined, o.variant);
  const each = classFootprintMiB(lab);
  const plan = classPlan(names.length, each, Math.floor(freemem() / 1048576), availableParallelism());
  const start = names.slice(0, plan.fits);
  const left = names.slice(plan.fits);
  if (left.length)
    console.error(
      `virtlab: this host's free memory (${Math.floor(freemem() / 1048576)} MiB) holds ${plan.fits} of ${names.length} students' labs (about ${each} MiB each): not starting ${left.join(', ')}`,
    );
  if (!o.json) console.log(`bringing up ${start.length} student lab(s) of ${lab.name}, ${plan.parallel} at a time`);
  // Ctrl-C reaches every student's run too: each removes what it made; this process waits for them
  const onSignal = () => {};
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const codes = new Map<string, number>();
  try {
    const queue = [...start];
    const workers = Array.from({ length: plan.parallel }, async () => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift())
        codes.set(name, await upOne(o, ref, name));
    });
    await Promise.all(workers);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (o.handout !== undefined) {
    const { writeHandout } = await import('./handout.ts');
    for (const [name, code] of codes)
      if (code === EXIT.ok) {
        const store = existingInstance(home(), name);
        if (!store) continue;
        const conf = writeHandout(store, join(o.handout, name));
        if (!o.json) console.log(`${name}'s hand-out: ${conf}`);
      }
  }
  const bad = [...codes].filter(([, c]) => c !== EXIT.ok);
  if (!o.json) {
    const up = codes.size - bad.length;
    const not = [...bad.map(([n, c]) => `${n} (exit ${c})`), ...left.map((n) => `${n} (no room)`)];
    console.log(`\nclass of ${names.length}: ${up} up${not.length ? `; not up: ${not.join(', ')}` : ''}`);
    console.log(
      `grade them with: virtlab check ${lab.name} --all --report-dir <dir>; remove them with: virtlab down --class ${o.class}`,
    );
  }
  return bad[0]?.[1] ?? (left.length ? EXIT.host : EXIT.ok);
}
