// One more attempt when a machine died mid-run: nested KVM under TCG occasionally panics a hypervisor VM
// (HOST-NOTES: about 1 run in 40). The first attempt's report and consoles are kept, and the retry is said aloud.
import { existsSync, renameSync, rmSync } from 'node:fs';
import type { Lab } from '../lab/model.ts';
import type { Emit } from '../report/events.ts';
import type { Home } from './home.ts';
import { runLifecycle, type LifecycleOptions, type RunOutcome } from './run.ts';

export async function runWithRetry(lab: Lab, o: LifecycleOptions, emit: Emit, signal: AbortSignal, h?: Home): Promise<RunOutcome & { retriedAfter?: string }> {
  const first = await runLifecycle(lab, o, emit, signal, h);
  if (!first.machineDied || o.mode !== 'run' || signal.aborted || process.env.VIRTLAB_RETRY === '0') return first;
  let kept = first.reportDir;
  if (o.reportDir && existsSync(o.reportDir)) {
    kept = `${o.reportDir.replace(/\/+$/, '')}-attempt-1`;
    rmSync(kept, { recursive: true, force: true });
    renameSync(o.reportDir, kept);
  }
  emit({ type: 'log', level: 'warn', message: `machine ${first.machineDied} died during the run (its console and report: ${kept}); running the lab once more (VIRTLAB_RETRY=0 turns this off)` });
  return { ...await runLifecycle(lab, o, emit, signal, h), retriedAfter: kept };
}
