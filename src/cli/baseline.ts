// virtlab baseline save | list | show: the measured figures of runs kept as plain JSON in the project's
// baselines/ folder (reviewable in git), and the lookup `run --baseline <name>` and `matrix --baseline` use.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { EXIT, UsageError } from '../errors.ts';
import { projectRoot } from '../lab/load.ts';
import type { Lab } from '../lab/model.ts';
import { type Baseline, bandText, baselineFrom, MIN_SAMPLES, parseBaseline } from '../report/baseline.ts';
import type { Options } from './args.ts';
import { readReport } from './read-report.ts';

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export const baselinesDir = (root = projectRoot()) => join(root, 'baselines');

/** A baseline by name (baselines/<name>.json of the project) or by path (a .json file). */
export function baselinePath(ref: string, root = projectRoot()): string {
  if (ref.includes('/') || ref.endsWith('.json')) return ref;
  if (!NAME.test(ref))
    throw new UsageError(`"${ref}" is not a baseline name`, 'lowercase letters, digits, ".", "_" and "-"');
  return join(baselinesDir(root), `${ref}.json`);
}

export function readBaseline(ref: string): Baseline {
  const path = baselinePath(ref);
  if (!existsSync(path)) {
    const known = listBaselines().map((b) => b.name);
    throw new UsageError(
      `no baseline ${ref} (${path})`,
      known.length
        ? `baselines: ${known.join(', ')}`
        : 'save one first: virtlab baseline save <report-dir> --name <name>',
    );
  }
  const b = parseBaseline(readFileSync(path, 'utf8'));
  if ('error' in b) throw new UsageError(`baseline ${path} cannot be used: ${b.error}`, 'save it again');
  return b;
}

/** The baseline a run of this lab is judged against; one of another lab is refused before anything starts. */
export function baselineFor(ref: string | undefined, lab: Lab): Baseline | undefined {
  if (ref === undefined) return undefined;
  const b = readBaseline(ref);
  if (b.lab !== lab.name)
    throw new UsageError(
      `baseline ${b.name} is of lab ${b.lab}, not ${lab.name}`,
      `save one from a run of ${lab.name}: virtlab baseline save <report-dir> --name <name>`,
    );
  return b;
}

function listBaselines(): Baseline[] {
  const dir = baselinesDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => {
      const b = parseBaseline(readFileSync(join(dir, f), 'utf8'));
      return 'error' in b ? [] : [b];
    });
}

/** One line per figure: "  bridge-internal throughput: 1480 ± 210 Mbit/s (15 samples)" */
function figureLines(b: Baseline): string[] {
  const lines: string[] = [];
  for (const [id, byName] of Object.entries(b.figures))
    for (const [name, f] of Object.entries(byName)) {
      const band =
        f.samples.length >= MIN_SAMPLES && f.low < f.high
          ? bandText(f, f.unit)
          : `${f.median} ${f.unit} (no band: too few samples)`;
      const spread = `σ${f.scale === 'log' ? ' of the logarithms' : ''} within a run ${f.sigmaWithin}, between runs ${f.sigmaBetween}`;
      lines.push(`  ${id} ${name}: ${band}, ${f.samples.length} samples; ${spread}`);
    }
  return lines;
}

export function commandBaseline(o: Options): number {
  const [action, ...rest] = o.args;
  if (action === 'save') {
    if (!rest.length)
      throw new UsageError(
        'baseline save needs the report folders of one or more runs',
        'virtlab baseline save <report-dir>... --name <name>',
      );
    const reports = rest.map(readReport);
    const failed = reports.findIndex((r) => r.result !== 'pass');
    if (failed >= 0)
      throw new UsageError(
        `the run in ${rest[failed]} did not pass (${reports[failed]!.result}): a baseline is made of passing runs`,
        'run the lab again and save the runs that pass',
      );
    const labs = [...new Set(reports.map((r) => r.lab))];
    if (labs.length > 1)
      throw new UsageError(`the reports are of different labs (${labs.join(', ')})`, 'a baseline is of one lab');
    const path = baselinePath(o.name ?? labs[0]!);
    const name = basename(path, '.json');
    const b = baselineFrom(name, reports);
    if (!Object.keys(b.figures).length)
      throw new UsageError(
        `the runs measured nothing (no throughput or round-trip figures in ${rest.join(', ')})`,
        'a baseline keeps the figures of throughput checks and of pings with rtt bounds',
      );
    const replaced = existsSync(path);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, `${JSON.stringify(b, null, 2)}\n`);
    if (o.json) console.log(JSON.stringify(b, null, 2));
    else
      console.log(
        [
          `${replaced ? 'replaced' : 'saved'} baseline ${name} of lab ${b.lab} from ${reports.length} run(s): ${path}`,
          ...figureLines(b),
          ...(reports.length < 3
            ? [
                reports.length === 1
                  ? "note: from one run the band knows only that run's own spread, not the noise between runs; save from three or more runs"
                  : 'note: from two runs the noise between runs is a rough guess; save from three or more runs',
              ]
            : []),
          `judge a run against it: virtlab run ${b.lab} --baseline ${name}`,
        ].join('\n'),
      );
    return EXIT.ok;
  }
  if (action === 'list') {
    const all = listBaselines();
    if (o.json)
      console.log(
        JSON.stringify(
          all.map(({ samples: _, ...b }: Baseline & { samples?: never }) => b),
          null,
          2,
        ),
      );
    else if (!all.length) console.log(`no baselines in ${baselinesDir()}`);
    else for (const b of all) console.log(`${b.name}  lab ${b.lab}, ${b.runs.length} run(s), saved ${b.savedAt}`);
    return EXIT.ok;
  }
  if (action === 'show') {
    if (rest.length !== 1) throw new UsageError('baseline show needs one name', 'virtlab baseline show <name>');
    const b = readBaseline(rest[0]!);
    if (o.json) console.log(JSON.stringify(b, null, 2));
    else
      console.log(
        [`baseline ${b.name} of lab ${b.lab}, ${b.runs.length} run(s), saved ${b.savedAt}`, ...figureLines(b)].join(
          '\n',
        ),
      );
    return EXIT.ok;
  }
  throw new UsageError(`no baseline action "${action}"`, 'virtlab baseline save <report-dir>... | list | show <name>');
}
