// Grading one lab instance that is up: the lab's checks against it, a score, and its reports (check, check --all).
import { EXIT } from '../errors.ts';
import type { StateStore } from '../host/state.ts';
import { runAssertions } from '../kinds/checks/index.ts';
import { closeAll, makeSession } from '../kinds/session.ts';
import { instanceLab } from '../lab/load.ts';
import { providerFor } from '../providers/index.ts';
import type { AssertionResult, Emit } from '../report/events.ts';
import { checkReport } from '../runner/report-build.ts';
import { writeReports } from '../runner/report-files.ts';
import { score } from '../runner/score.ts';
import type { Options } from './args.ts';

export interface Graded {
  instance: string;
  results: AssertionResult[];
  score: { points: number; max: number };
  exitCode: number;
  /** an exercise in stages: each checkpoint's checks passed, and how many stages in a row are done */
  checkpoints?: { name: string; passed: number; total: number; done: boolean }[];
  reached?: number;
}

/** Each checkpoint's checks that passed; the stages done in a row from the first. */
export function checkpointsOf(
  list: { name: string; assertions: string[] }[],
  results: AssertionResult[],
): Pick<Graded, 'checkpoints' | 'reached'> {
  if (!list.length) return {};
  const checkpoints = list.map((c) => {
    const passed = c.assertions.filter((id) => results.some((r) => r.id === id && r.status === 'pass')).length;
    return { name: c.name, passed, total: c.assertions.length, done: passed === c.assertions.length };
  });
  const firstOpen = checkpoints.findIndex((c) => !c.done);
  return { checkpoints, reached: firstOpen < 0 ? checkpoints.length : firstOpen };
}

/** The lab's checks against one instance that is up; reports into reportDir when given. */
export async function checkInstance(
  store: StateStore,
  o: Pick<Options, 'reportDir'>,
  formats: string[],
  emit: Emit,
  signal: AbortSignal,
): Promise<Graded> {
  const lab = instanceLab(store.state);
  const s = makeSession(lab, store, providerFor(store.state).attach(store), emit, signal);
  const t0 = performance.now();
  try {
    // each result as soon as it is known: a check of many assertions is never silent
    emit({ type: 'stage-start', stage: 'assert' });
    const results = await runAssertions(lab.assertions, s, (result) => emit({ type: 'assertion', result }));
    const failed = results.some((r) => r.status === 'fail');
    const sc = score(results);
    const durationMs = Math.round(performance.now() - t0);
    const { instance, runId, provider } = store.state;
    if (o.reportDir) {
      const report = checkReport({
        lab,
        instance,
        runId,
        provider,
        startedAt: new Date(Date.now() - durationMs).toISOString(),
        durationMs,
        assertions: results,
        failed,
      });
      writeReports(o.reportDir, report, lab, formats);
    }
    const exitCode = failed ? EXIT.assertion : EXIT.ok;
    const stages = checkpointsOf(lab.exercise?.checkpoints ?? [], results);
    for (const [i, c] of (stages.checkpoints ?? []).entries())
      emit({
        type: 'log',
        level: 'info',
        message: `checkpoint ${i + 1} ${c.name}: ${c.passed}/${c.total} checks${c.done ? ', done' : ''}`,
      });
    emit({
      type: 'run-end',
      result: failed ? 'fail' : 'pass',
      exitCode,
      durationMs,
      score: sc,
      message: `score ${sc.points}/${sc.max}`,
      reportDir: o.reportDir,
    });
    return { instance, results, score: sc, exitCode, ...stages };
  } finally {
    await closeAll(s);
  }
}
