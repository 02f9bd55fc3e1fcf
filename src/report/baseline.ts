// Baselines: the figures of saved runs (median and spread of every sample), kept as plain JSON in the project's
// baselines/ folder, and a later run's figures judged against them. The noise band is the baseline's own spread,
// no fixed percentage: 3 standard deviations either side of its median, where the variance is the samples' own
// within a run (robust: 1.4826 × the median absolute deviation, around each run's median) plus the variance of the
// runs' medians (from two runs on, times 1 + 1/n: the next run's own noise). How many standard deviations is
// Student's t at 99 % (one side) for the degrees of freedom of both parts together (Welch-Satterthwaite), never
// fewer than 3: a spread known from few runs gets a wider band (3 runs: up to 7 σ), many runs 3 σ.
// Rates and times vary by factors (a run at half the speed is as likely as one at
// twice), so the band is taken on their logarithms: it is a factor either way (400–1600 around 800), never a
// negative rate. A noisy figure gets a wide band and a steady one a narrow band; one run knows only its own spread,
// which is why `baseline save` asks for several. Pure: no files here.
import type { AssertionResult, BaselineVerdict, Figure } from './events.ts';
import type { RunReport } from './run-report.ts';

export const BASELINE_VERSION = 2;
/** How many standard deviations from the median a figure may stray before it is flagged: 3 for many runs. */
export const BAND_SIGMAS = 3;

/** Student's t at 99 % (one side) by degrees of freedom, 1 to 8 (from 7 on it is below 3). */
const T_99 = [31.82, 6.965, 4.541, 3.747, 3.365, 3.143, 2.998, 2.896];

/**
 * How many standard deviations the band spans for these degrees of freedom: Student's t at 99 % (one side), so that
 * a figure from the baseline's own noise falls outside it less than once in a hundred, and never fewer than 3.
 * Fewer than 1: no band can be drawn.
 */
export function tFor(df: number): number {
  if (!(df >= 1)) return Number.POSITIVE_INFINITY;
  return Math.max(BAND_SIGMAS, T_99[Math.floor(df) - 1] ?? BAND_SIGMAS);
}

/** Welch-Satterthwaite: the degrees of freedom of a sum of two variances estimated with df1 and df2. */
export function combinedDf(v1: number, df1: number, v2: number, df2: number): number {
  const den = (df1 > 0 ? v1 ** 2 / df1 : 0) + (df2 > 0 ? v2 ** 2 / df2 : 0);
  return den > 0 ? (v1 + v2) ** 2 / den : Math.max(df1, df2);
}
/** Fewer samples than this give no band: such a figure is kept and shown, never judged. */
export const MIN_SAMPLES = 3;

export interface BaselineFigure {
  unit: string;
  better: 'higher' | 'lower';
  median: number;
  /** the noise band: a later figure between these is within the baseline's noise (equal: no band) */
  low: number;
  high: number;
  /** log: the spread was taken on the logarithms (every sample positive); linear otherwise */
  scale: 'log' | 'linear';
  /** sqrt(within² + between²) on that scale: what the band is made of */
  sigma: number;
  /** the robust standard deviation of the samples around their own run's median (1.4826 × MAD) */
  sigmaWithin: number;
  /** the standard deviation of the runs' medians (0 from one run) */
  sigmaBetween: number;
  /** each run's median */
  runMedians: number[];
  /** every sample (each second's throughput, each echo's RTT) of every saved run */
  samples: number[];
}

export interface Baseline {
  version: typeof BASELINE_VERSION;
  name: string;
  lab: string;
  savedAt: string;
  /** the runs it was made from, with the versions they ran on */
  runs: { runId: string; startedAt: string; provider: string; machines: RunReport['machines'] }[];
  /** assertion id -> figure name -> figure (only figures with samples: a spread needs several) */
  figures: Record<string, Record<string, BaselineFigure>>;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** 1.4826 × the median absolute deviation: the standard deviation of normal samples, unmoved by outliers. */
export function robustSigma(xs: number[]): number {
  const m = median(xs);
  return 1.4826 * median(xs.map((x) => Math.abs(x - m)));
}

const round = (x: number) => Number(x.toFixed(3));

/** The sample standard deviation (n - 1). */
export function stdev(xs: number[]): number {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

/** A baseline figure from its runs' samples: median, the spread within and between runs, the band. */
export function figureOf(e: {
  unit: string;
  better: Figure['better'];
  samples: number[];
  runs: number[][];
}): BaselineFigure {
  const scale = e.samples.every((x) => x > 0) ? 'log' : 'linear';
  const to = scale === 'log' ? Math.log : (x: number) => x;
  const from = scale === 'log' ? Math.exp : (x: number) => x;
  const runs = e.runs.map((r) => r.map(to));
  const runMedians = runs.map(median);
  const enough = e.samples.length >= MIN_SAMPLES;
  // each sample's distance from its own run's median: the noise within a run, whatever the runs' levels
  const within = enough ? robustSigma(runs.flatMap((r, i) => r.map((x) => x - runMedians[i]!))) : 0;
  const n = runMedians.length;
  const between = n > 1 ? stdev(runMedians) : 0;
  const vWithin = within ** 2;
  const vBetween = n > 1 ? between ** 2 * (1 + 1 / n) : 0;
  const sigma = enough ? Math.sqrt(vWithin + vBetween) : 0;
  const k = tFor(combinedDf(vWithin, e.samples.length - n, vBetween, n - 1));
  const mid = median(e.samples.map(to));
  return {
    unit: e.unit,
    better: e.better,
    median: round(from(mid)),
    low: round(from(mid - (Number.isFinite(k) ? k * sigma : 0))),
    high: round(from(mid + (Number.isFinite(k) ? k * sigma : 0))),
    scale,
    sigma: round(sigma),
    sigmaWithin: round(within),
    sigmaBetween: round(between),
    runMedians: runMedians.map((m) => round(from(m))),
    samples: e.samples,
  };
}

/** A baseline from one or more runs of the same lab: each figure's samples pooled over the runs. */
export function baselineFrom(name: string, reports: RunReport[], now = new Date()): Baseline {
  // the caller checked that every report is of one lab
  const lab = reports[0]?.lab ?? '';
  const pooled = new Map<
    string,
    Map<string, { unit: string; better: Figure['better']; samples: number[]; runs: number[][] }>
  >();
  for (const r of reports)
    for (const a of r.assertions)
      for (const f of a.figures ?? []) {
        if (!f.samples?.length) continue;
        const byName = pooled.get(a.id) ?? new Map();
        pooled.set(a.id, byName);
        const e = byName.get(f.name) ?? { unit: f.unit, better: f.better, samples: [], runs: [] };
        e.samples.push(...f.samples);
        e.runs.push(f.samples);
        byName.set(f.name, e);
      }
  const figures: Baseline['figures'] = {};
  for (const [id, byName] of pooled) {
    figures[id] = {};
    for (const [fname, e] of byName) figures[id][fname] = figureOf(e);
  }
  return {
    version: BASELINE_VERSION,
    name,
    lab,
    savedAt: now.toISOString(),
    runs: reports.map((r) => ({ runId: r.runId, startedAt: r.startedAt, provider: r.provider, machines: r.machines })),
    figures,
  };
}

/** What a figure is judged by: the median of its samples (like the baseline's), else its value. */
export const measured = (f: Figure): number => (f.samples?.length ? round(median(f.samples)) : f.value);

/** Where a figure stands against its baseline figure. */
export function verdictOf(f: Figure, b: BaselineFigure, name: string): BaselineVerdict {
  const base = { name, median: b.median, low: b.low, high: b.high, measured: measured(f) };
  if (b.samples.length < MIN_SAMPLES || b.low === b.high) return { ...base, verdict: 'no-band' };
  const below = base.measured < b.low;
  const above = base.measured > b.high;
  if (!below && !above) return { ...base, verdict: 'within' };
  const worse = f.better === 'higher' ? below : above;
  return { ...base, verdict: worse ? 'regression' : 'improvement' };
}

/** The band as people read it: "800 Mbit/s (400–1600)". */
export const bandText = (b: { median: number; low: number; high: number }, unit: string) =>
  `${b.median} ${unit} (${b.low}–${b.high})`;

/** "throughput 12.1 Mbit/s (median) is below baseline main's 800 Mbit/s (400–1600)" */
export function verdictText(f: Figure): string {
  const b = f.baseline!;
  const where = b.measured < b.median ? 'below' : 'above';
  return `${f.name} ${b.measured} ${f.unit} (median) is ${where} baseline ${b.name}'s ${bandText(b, f.unit)}`;
}

/**
 * A result judged against a baseline: each figure the baseline knows gets its verdict; a regression fails an
 * assertion that was expected to pass, and says so. Assertions the baseline does not know are left as they are.
 */
export function judge(r: AssertionResult, b: Baseline): AssertionResult {
  const known = b.figures[r.id];
  if (!known || !r.figures?.length) return r;
  const figures = r.figures.map((f) => (known[f.name] ? { ...f, baseline: verdictOf(f, known[f.name]!, b.name) } : f));
  const regressions = figures.filter((f) => f.baseline?.verdict === 'regression');
  if (!regressions.length || r.expect === 'fail') return { ...r, figures };
  return {
    ...r,
    figures,
    status: 'fail',
    reason: `${r.reason}; regression: ${regressions.map(verdictText).join('; ')}`,
  };
}

/** Reads a baseline file's JSON: the fields a judge needs, or what is wrong with it. */
export function parseBaseline(text: string): Baseline | { error: string } {
  let j: Partial<Baseline>;
  try {
    j = JSON.parse(text) as Partial<Baseline>;
  } catch (e) {
    return { error: `not JSON: ${(e as Error).message}` };
  }
  if (j.version !== BASELINE_VERSION) return { error: `version ${j.version}, not ${BASELINE_VERSION}` };
  if (typeof j.lab !== 'string' || typeof j.name !== 'string' || typeof j.figures !== 'object' || !j.figures)
    return { error: 'it lacks lab, name or figures' };
  for (const [id, byName] of Object.entries(j.figures))
    for (const [fname, f] of Object.entries(byName ?? {}))
      if (
        typeof f?.median !== 'number' ||
        typeof f.low !== 'number' ||
        typeof f.high !== 'number' ||
        !Array.isArray(f.samples) ||
        !['higher', 'lower'].includes(f.better)
      )
        return { error: `figure ${fname} of ${id} lacks median, low, high, samples or better` };
  return j as Baseline;
}
