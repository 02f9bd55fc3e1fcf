// Round-trip times of a ping as figures: each echo's time read from ping's output (iputils and busybox), the
// percentiles a lab bounds (`rtt: { p50: ">= 90 ms", max: "< 400 ms" }`) and whether they hold. Pure.
import type { Figure } from '../../report/events.ts';

export const RTT_STATS = ['min', 'p50', 'p90', 'p95', 'p99', 'max'] as const;
export type RttStat = (typeof RTT_STATS)[number];
type Op = '<' | '<=' | '>' | '>=';

export interface RttBound {
  stat: RttStat;
  op: Op;
  ms: number;
}

export const RTT_BOUND_PATTERN = '^\\s*(<|<=|>|>=)\\s*\\d+(\\.\\d+)?\\s*ms\\s*$';

/** `">= 90 ms"` → { op: '>=', ms: 90 }; undefined when it is not a bound. */
export function parseBound(stat: RttStat, text: string): RttBound | undefined {
  const m = /^\s*(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*ms\s*$/.exec(text);
  return m ? { stat, op: m[1] as Op, ms: Number(m[2]) } : undefined;
}

/** Each echo's round-trip time in ms: "time=0.045 ms" (iputils, busybox). */
export function parseRtts(out: string): number[] {
  return [...out.matchAll(/time[=<]([\d.]+) ?ms/g)].map((m) => Number(m[1]));
}

/** The nearest-rank percentile of the samples (p50 of 1..10 is 5); min and max as named. */
export function stat(samples: number[], s: RttStat): number {
  const sorted = [...samples].sort((a, b) => a - b);
  if (s === 'min') return sorted[0]!;
  if (s === 'max') return sorted.at(-1)!;
  const p = Number(s.slice(1)) / 100;
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

const holds = (v: number, b: RttBound) =>
  b.op === '<' ? v < b.ms : b.op === '<=' ? v <= b.ms : b.op === '>' ? v > b.ms : v >= b.ms;

/** The bounds that do not hold, as "p50 12.1 ms is not >= 90 ms". */
export function brokenBounds(samples: number[], bounds: RttBound[]): string[] {
  return bounds
    .filter((b) => !holds(stat(samples, b.stat), b))
    .map((b) => `${b.stat} ${round(stat(samples, b.stat))} ms is not ${b.op} ${b.ms} ms`);
}

const round = (x: number) => Number(x.toFixed(3));

/** rtt-p50 always (with every echo's time as its samples), then each other statistic the lab bounds. */
export function rttFigures(samples: number[], bounds: RttBound[]): Figure[] {
  const stats = [...new Set<RttStat>(['p50', ...bounds.map((b) => b.stat)])];
  return stats.map((s) => ({
    name: `rtt-${s}`,
    value: round(stat(samples, s)),
    unit: 'ms',
    better: 'lower' as const,
    ...(s === 'p50' ? { samples } : {}),
  }));
}

/** "p50 100.4 ms, max 131 ms over 10 echoes" */
export function rttSummary(samples: number[], bounds: RttBound[]): string {
  const stats = [...new Set<RttStat>(['p50', ...bounds.map((b) => b.stat), 'max'])];
  return `${stats.map((s) => `${s} ${round(stat(samples, s))} ms`).join(', ')} over ${samples.length} echoes`;
}
