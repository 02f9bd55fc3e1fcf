// Grading one lab instance that is up: the lab's checks against it, a score, and its reports (check, check --all).
import { EXIT } from '../errors.ts';
import type { StateStore } from '../host/state.ts';
import { runAssertion } from '../kinds/checks/index.ts';
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
    const results = await Promise.all(
      lab.assertions.map(async (a) => {
        const r = await runAssertion(a, s);
        emit({ type: 'assertion', result: r });
        return r;
      }),
    );
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
    emit({
      type: 'run-end',
      result: failed ? 'fail' : 'pass',
      exitCode,
      durationMs,
      score: sc,
      message: `score ${sc.points}/${sc.max}`,
      reportDir: o.reportDir,
    });
    return { instance, results, score: sc, exitCode };
  } finally {
    await closeAll(s);
  }
}
