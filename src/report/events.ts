// The RunEvent union: everything a run reports; each reporter is an exhaustive formatter over it.

/** The lifecycle's stages, in order. */
export const STAGES = [
  'preflight',
  'up',
  'provision',
  'upload',
  'setup',
  'ready',
  'break',
  'assert',
  'collect',
  'teardown',
] as const;
export type Stage = (typeof STAGES)[number];

export type StepStatus = 'ok' | 'changed' | 'skipped' | 'failed';

export interface Evidence {
  machine: string;
  argv: string[];
  exitCode: number;
  stdout: string;
  stderr?: string;
}

export interface GridCell {
  from: string;
  to: string;
  expect: 'pass' | 'fail';
  observed: 'pass' | 'fail';
  status: 'pass' | 'fail';
  reason: string;
}

export interface AssertionResult {
  id: string;
  kind: string;
  title: string;
  expect: 'pass' | 'fail';
  /** did the check itself succeed */
  observed: 'pass' | 'fail';
  /** pass when observed === expect */
  status: 'pass' | 'fail';
  /** one readable line: what was expected, what was seen */
  reason: string;
  hint?: string;
  durationMs: number;
  evidence: Evidence[];
  /** course mode: what this check is worth */
  points?: number;
  /** reachability grids: one cell per ordered pair */
  cells?: GridCell[];
  /** a check of one path (a ping): drawn on the topology */
  edge?: { from: string; to: string };
  /** a failed ping run once more with captures along its path: where the echo requests were seen */
  trace?: PacketTrace;
  /** what a measuring check measured (throughput, loss, RTT percentiles), compared with a baseline when given */
  figures?: Figure[];
}

/** One measured figure of a check. */
export interface Figure {
  /** throughput, retransmits, loss, jitter, cpu-client, rtt-p50... (a baseline keeps figures by this name) */
  name: string;
  value: number;
  unit: string;
  /** which way is better: a drop in throughput or a rise in RTT is a regression */
  better: 'higher' | 'lower';
  /** the measurements the value summarises (each second's throughput, each echo's RTT) */
  samples?: number[];
  /** against a saved baseline (run --baseline) */
  baseline?: BaselineVerdict;
}

export interface BaselineVerdict {
  /** the baseline's name */
  name: string;
  median: number;
  /** what was judged: the median of this run's samples (the figure's value when it has none) */
  measured: number;
  /** the baseline's noise band (see report/baseline.ts) */
  low: number;
  high: number;
  /** outside the band on the worse side: regression; on the better side: improvement; no-band: too few samples */
  verdict: 'within' | 'regression' | 'improvement' | 'no-band';
}

export interface PacketTrace {
  /** every port on the path, in order, with the echo requests seen there (-1: could not capture) */
  hops: { label: string; node: string; requests: number; pcap?: string }[];
  /** the last port that saw them, and its topology node */
  last?: string;
  lastNode?: string;
  /** the port after it, which did not */
  lostBefore?: string;
}

export type RunEvent =
  | { type: 'run-start'; lab: string; instance: string; runId: string; runDir: string; provider: string }
  | { type: 'stage-start'; stage: Stage }
  | { type: 'stage-end'; stage: Stage; durationMs: number; ok: boolean }
  | {
      type: 'step-start';
      stage: Stage;
      id: string;
      title: string;
      /** a wait's limit: the console shows elapsed / limit while it waits */
      limitMs?: number;
    }
  | { type: 'step-end'; stage: Stage; id: string; status: StepStatus; durationMs: number; detail?: string }
  | { type: 'log'; level: 'info' | 'warn' | 'debug'; message: string }
  | {
      type: 'command';
      machine: string;
      argv: string[];
      /** the argv quoted for a paste into a shell */
      line?: string;
      exitCode: number;
      durationMs: number;
      output?: string;
    }
  | { type: 'assertion'; result: AssertionResult }
  | { type: 'removed'; what: string; ok: boolean; detail?: string }
  | { type: 'interrupted'; signal: string; stage?: string }
  | {
      type: 'run-end';
      result: 'pass' | 'fail' | 'error' | 'interrupted';
      exitCode: number;
      durationMs: number;
      reportDir?: string;
      /** report.html, when it was written */
      report?: string;
      /** course mode: the points of the checks that held, of all (check, and runs of labs with an exercise) */
      score?: { points: number; max: number };
      message?: string;
    };

export type Emit = (e: RunEvent) => void;
