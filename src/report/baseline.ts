// Baselines: the figures of saved runs (median and spread of every sample), kept as plain JSON in the project's
// baselines/ folder, and a later run's figures judged against them. The noise band is the baseline's own spread:
// its median ± 3 robust standard deviations (1.4826 × the median absolute deviation) of all its samples, so a
// noisy figure gets a wide band and a steady one a narrow band; no fixed percentage. Pure: no files here.
import type { AssertionResult, BaselineVerdict, Figure } from './events.ts';
import type { RunReport } from './run-report.ts';

export const BASELINE_VERSION = 1;
/** How many robust standard deviations from the median a figure may stray before it is flagged. */
export const BAND_SIGMAS = 3;
/** Fewer samples than this give no band: such a figure is kept and shown, never judged. */
export const MIN_SAMPLES = 3;

export interface BaselineFigure {
  unit: string;
  better: 'higher' | 'lower';
  median: number;
  /** the robust standard deviation of the samples (1.4826 × MAD) */
  sigma: number;
  /** half-width of the noise band: BAND_SIGMAS × sigma (0: no band) */
  band: number;
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

/** A baseline from one or more runs of the same lab: each figure's samples pooled over the runs. */
export function baselineFrom(name: string, reports: RunReport[], now = new Date()): Baseline {
  // the caller checked that every report is of one lab
  const lab = reports[0]?.lab ?? '';
  const pooled = new Map<string, Map<string, { unit: string; better: Figure['better']; samples: number[] }>>();
  for (const r of reports)
    for (const a of r.assertions)
      for (const f of a.figures ?? []) {
        if (!f.samples?.length) continue;
        const byName = pooled.get(a.id) ?? new Map();
        pooled.set(a.id, byName);
        const e = byName.get(f.name) ?? { unit: f.unit, better: f.better, samples: [] };
        e.samples.push(...f.samples);
        byName.set(f.name, e);
      }
  const figures: Baseline['figures'] = {};
  for (const [id, byName] of pooled) {
    figures[id] = {};
    for (const [fname, e] of byName) {
      const sigma = e.samples.length >= MIN_SAMPLES ? robustSigma(e.samples) : 0;
      figures[id][fname] = {
        unit: e.unit,
        better: e.better,
        median: round(median(e.samples)),
        sigma: round(sigma),
        band: round(BAND_SIGMAS * sigma),
        samples: e.samples,
      };
    }
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
  const base = { name, median: b.median, band: b.band, measured: measured(f) };
  if (b.samples.length < MIN_SAMPLES || b.band === 0) return { ...base, verdict: 'no-band' };
  const below = base.measured < b.median - b.band;
  const above = base.measured > b.median + b.band;
  if (!below && !above) return { ...base, verdict: 'within' };
  const worse = f.better === 'higher' ? below : above;
  return { ...base, verdict: worse ? 'regression' : 'improvement' };
}

/** "throughput 12.1 Mbit/s (median) is below baseline main's 45.3 ± 6.2 Mbit/s" */
export function verdictText(f: Figure): string {
  const b = f.baseline!;
  const where = b.measured < b.median ? 'below' : 'above';
  return `${f.name} ${b.measured} ${f.unit} (median) is ${where} baseline ${b.name}'s ${b.median} ± ${b.band} ${f.unit}`;
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
        typeof f.band !== 'number' ||
        !Array.isArray(f.samples) ||
        !['higher', 'lower'].includes(f.better)
      )
        return { error: `figure ${fname} of ${id} lacks median, band, samples or better` };
  return j as Baseline;
}
