// virtlab bisect <lab> --targets <ordered file> [--assertion <id>]: the first target where the lab's outcome (or one
// assertion's) flips, found by running both ends and then halving the range between them: at most
// ceil(log2(n - 1)) + 2 runs for n targets (both ends, then one run per halving of the n - 1 places a flip can be).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, UsageError } from '../errors.ts';
import { home } from '../host/home.ts';
import { claimReportDir } from '../host/report-dir.ts';
import { loadLab } from '../lab/load.ts';
import type { MatrixColumn } from '../report/matrix.ts';
import type { Options } from './args.ts';
import { interrupts } from './interrupts.ts';
import { loadTargets, runTarget } from './matrix.ts';

export type Outcome = 'pass' | 'fail';

export interface Bisection<T> {
  /** the outcome at each end */
  from: Outcome;
  to: Outcome;
  /** the last target with the first end's outcome and the first with the other's (none when both ends agree) */
  last?: T;
  first?: T;
  /** the targets run, in order */
  ran: T[];
}

/**
 * Binary search for the flip along an ordered list: both ends first (they must differ), then the middle of the
 * range that still holds the flip. Assumes one flip; a list that flips back and forth yields one of its flips.
 */
export async function bisect<T>(items: T[], outcome: (t: T) => Promise<Outcome>): Promise<Bisection<T>> {
  const ran: T[] = [];
  const at = async (i: number) => {
    ran.push(items[i]!);
    return outcome(items[i]!);
  };
  const from = await at(0);
  const to = items.length > 1 ? await at(items.length - 1) : from;
  if (from === to) return { from, to, ran };
  let lo = 0;
  let hi = items.length - 1;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if ((await at(mid)) === from) lo = mid;
    else hi = mid;
  }
  return { from, to, last: items[lo], first: items[hi], ran };
}

/** The most runs a bisection of n targets takes. */
export function maxRuns(n: number): number {
  return n <= 1 ? n : Math.ceil(Math.log2(n - 1)) + 2;
}

/** A run's outcome: the lab's result, or one assertion's status; an error (no report, no such assertion) stops. */
export function outcomeOf(c: MatrixColumn, assertion?: string): Outcome {
  if (!c.report)
    throw new UsageError(`target ${c.target} could not run: ${c.error}`, 'fix that target and bisect again');
  if (!assertion) return c.report.result === 'pass' ? 'pass' : 'fail';
  const a = c.report.assertions.find((x) => x.id === assertion);
  if (!a)
    throw new UsageError(
      `target ${c.target}'s run has no assertion ${assertion}`,
      `its assertions: ${c.report.assertions.map((x) => x.id).join(', ')}`,
    );
  return a.status;
}

export async function commandBisect(o: Options): Promise<number> {
  if (o.args.length !== 1 || !o.targets)
    throw new UsageError(
      'bisect needs a lab and an ordered targets file',
      'virtlab bisect <lab> --targets targets.yml',
    );
  const lab = loadLab(o.args[0]!, undefined, o.variant);
  const targets = loadTargets(o.targets);
  if (o.assertion && !lab.assertions.some((a) => a.id === o.assertion))
    throw new UsageError(
      `lab ${lab.name} has no assertion ${o.assertion}`,
      `its assertions: ${lab.assertions.map((a) => a.id).join(', ')}`,
    );
  const dir = o.reportDir ?? join(home().runs, `bisect-${lab.name}-${Date.now().toString(36)}`);
  claimReportDir(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const what = o.assertion ? `assertion ${o.assertion}` : 'the lab';
  const most = maxRuns(targets.length);
  console.log(`bisecting ${what} over ${targets.length} targets (at most ${most} runs): ${dir}`);
  const { signal, dispose, exitCode: stopped } = interrupts();
  try {
    const r = await bisect(targets, async (t) => {
      if (signal.aborted) throw new UsageError('interrupted');
      const out = outcomeOf(await runTarget(lab, t, join(dir, t.name), signal), o.assertion);
      console.log(`  ${t.name}: ${out}`);
      return out;
    });
    if (!r.first) {
      console.log(`no flip: ${what} is ${r.from} at both ends (${targets[0]!.name}, ${targets.at(-1)!.name})`);
      return stopped() ?? EXIT.ok;
    }
    console.log(
      `${what} flips from ${r.from} to ${r.to} between ${r.last!.name} and ${r.first!.name} (${r.ran.length} runs; reports in ${dir})`,
    );
    return stopped() ?? EXIT.ok;
  } finally {
    dispose();
  }
}
