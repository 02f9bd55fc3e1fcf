// One lab run in progress: what every stage of the lifecycle reads and writes.

import { setMaxListeners } from 'node:events';
import type { IntervalClock } from '../host/clock.ts';
import type { Home } from '../host/home.ts';
import type { ResolvedImage } from '../host/images.ts';
import type { StateStore } from '../host/state.ts';
import type { Session } from '../kinds/session.ts';
import type { Lab } from '../lab/model.ts';
import type { Provider, ProviderOptions } from '../providers/port.ts';
import { type Baseline, judge } from '../report/baseline.ts';
import type { AssertionResult, Emit, RunEvent, Stage } from '../report/events.ts';
import type { HostState } from '../report/host-state.ts';
import type { ReportStep } from '../report/run-report.ts';
import type { MachineVersions } from './collect.ts';

export interface LifecycleOptions {
  mode: 'run' | 'up';
  provider: string;
  /** the provider's own options (--inventory, --kernel), by key */
  providerOptions: ProviderOptions;
  reportDir?: string;
  keep: boolean;
  until?: string;
  skip: string[];
  name?: string;
  collect: 'on-failure' | 'always';
  readyTimeoutMs: number;
  /** json, junit, html (default) and tap */
  reportFormats?: string[];
  /** a student's own parameter values (exercise.vary), kept in the state so that check and reset render the same lab */
  params?: Record<string, string>;
  /** up --break: put the exercise's faults (drawn for this instance) into the lab once it is up */
  breakFaults?: boolean;
  /** --provisioner: who runs every machine's playbook (default: each machine's own choice, else builtin) */
  provisioner?: 'builtin' | 'ansible';
  /** --baseline: figures are judged against it (a regression fails its assertion) */
  baseline?: Baseline;
}

/** Why a failed run is worth trying once more: something beneath the lab went wrong, not the lab. */
export interface Unstable {
  reason: 'machine-died' | 'machine-stalled' | 'guest-rebooted' | 'guest-hung' | 'guest-stalled';
  message: string;
}

export interface RunOutcome {
  exitCode: number;
  result: 'pass' | 'fail' | 'error' | 'interrupted';
  reportDir?: string;
  results: AssertionResult[];
  store?: StateStore;
  /** the files the run wrote into its report folder */
  files: string[];
  unstable?: Unstable;
}

/** Keeps what the report files need while passing every event on. */
export class Recorder {
  readonly results: AssertionResult[] = [];
  readonly stages: Partial<Record<Stage, number>> = {};
  readonly steps: ReportStep[] = [];
  readonly files: string[] = [];
  private readonly titles = new Map<string, string>();
  constructor(
    private readonly out: Emit,
    private readonly baseline?: Baseline,
  ) {}
  emit = (event: RunEvent): void => {
    // a figure is judged against the baseline once, here: the console, the report files and the exit code agree
    const e =
      event.type === 'assertion' && this.baseline ? { ...event, result: judge(event.result, this.baseline) } : event;
    if (e.type === 'assertion') this.results.push(e.result);
    if (e.type === 'stage-end') this.stages[e.stage] = (this.stages[e.stage] ?? 0) + e.durationMs;
    if (e.type === 'step-start') this.titles.set(e.id, e.title);
    if (e.type === 'step-end') {
      const { stage, id, status, durationMs, detail } = e;
      this.steps.push({ stage, id, title: this.titles.get(id) ?? id, status, durationMs, detail });
    }
    this.out(e);
  };
}

export class Run {
  readonly t0: number;
  /** waiting for guests to boot is neither a command nor virtlab's own time */
  readonly waits: [number, number][] = [];
  readonly rec: Recorder;
  /** a machine that dies mid-run (a VM's kernel panics) stops the run at once */
  readonly died = new AbortController();
  /** the user's interrupt or a machine's death */
  readonly runSignal: AbortSignal;
  session?: Session;
  error?: unknown;
  current?: Stage;
  versions: Record<string, MachineVersions> = {};
  /** set once they are asked (gatherVersions) */
  versionsDone?: Promise<void>;
  /** each hypervisor's state after setup, taken while the guests boot (host-state.json) */
  hostState: Record<string, HostState> = {};
  hostStateDone: Promise<void> = Promise.resolve();

  constructor(
    readonly lab: Lab,
    readonly o: LifecycleOptions,
    readonly provider: Provider,
    readonly home: Home,
    readonly store: StateStore,
    readonly reportDir: string,
    readonly images: Map<string, ResolvedImage>,
    readonly signal: AbortSignal,
    emit: Emit,
    /** when commands ran (for virtlab's own time), from preflight on */
    readonly clock: IntervalClock,
    t0: number,
  ) {
    this.t0 = t0;
    this.rec = new Recorder(emit, o.baseline);
    this.runSignal = AbortSignal.any([signal, this.died.signal]);
    // every command in flight listens to it (evidence and versions gathered at once are many): not a leak
    setMaxListeners(1000, this.runSignal);
  }

  get emit(): Emit {
    return this.rec.emit;
  }

  /** The setup steps this run does: all, or those before --until. */
  get todo() {
    const cut = this.o.until ? this.lab.steps.findIndex((x) => x.id === this.o.until) : this.lab.steps.length;
    return this.lab.steps.slice(0, cut);
  }

  ms(since = this.t0): number {
    return Math.round(performance.now() - since);
  }
}
