// One more attempt when something beneath the lab went wrong: a machine died mid-run, or, in a run that failed, a
// guest rebooted unasked or a guest inside a VM never began to boot. Nested KVM under TCG does each now and then
// (HOST-NOTES). The first attempt's report
// and consoles are kept next to the second's, and the retry is said aloud.
import { existsSync, renameSync, rmSync } from 'node:fs';
import type { Lab } from '../lab/model.ts';
import type { Emit } from '../report/events.ts';
import type { Home } from './home.ts';
import { providerFor } from '../providers/index.ts';
import { runLifecycle, type LifecycleOptions, type RunOutcome } from './run.ts';
import { teardown } from './teardown.ts';

export async function runWithRetry(
  lab: Lab,
  o: LifecycleOptions,
  emit: Emit,
  signal: AbortSignal,
  h?: Home,
): Promise<RunOutcome & { retriedAfter?: string }> {
  const first = await runLifecycle(lab, o, emit, signal, h);
  if (!first.unstable || o.mode !== 'run' || signal.aborted || process.env.VIRTLAB_RETRY === '0') return first;
  // with --keep the first attempt's machines are still up (one of them broken): they make way for the second
  // attempt, which is the one kept; the first attempt's report stays
  if (o.keep && first.store) {
    const leaks = await teardown(providerFor(first.store.state), first.store, emit);
    if (leaks.length) return first;
  }
  let kept = first.reportDir;
  if (o.reportDir && existsSync(o.reportDir)) {
    kept = `${o.reportDir.replace(/\/+$/, '')}-attempt-1`;
    rmSync(kept, { recursive: true, force: true });
    renameSync(o.reportDir, kept);
  }
  emit({
    type: 'log',
    level: 'warn',
    message: `${first.unstable} (its consoles and report: ${kept}); running the lab once more (VIRTLAB_RETRY=0 turns this off)`,
  });
  return { ...(await runLifecycle(lab, o, emit, signal, h)), retriedAfter: kept };
}
