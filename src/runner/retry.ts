// One more attempt when something beneath the lab went wrong (see Unstable in context.ts): nested KVM under TCG
// now and then kills a VM, reboots a guest or hangs one at boot (HOST-NOTES). The retry is said aloud, and the first
// attempt's report stays: in its own run folder, or, when both attempts share a --report-dir, moved into
// <report-dir>/attempt-1/ (only the files the attempt wrote; nothing else there is touched).
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { readConfig } from '../host/config.ts';
import type { Home } from '../host/home.ts';
import { home as defaultHome } from '../host/home.ts';
import type { Lab } from '../lab/model.ts';
import { providerFor } from '../providers/index.ts';
import type { Emit } from '../report/events.ts';
import { type LifecycleOptions, type RunOutcome, runLifecycle } from './run.ts';
import { teardown } from './teardown.ts';

export async function runWithRetry(
  lab: Lab,
  o: LifecycleOptions,
  emit: Emit,
  signal: AbortSignal,
  h: Home = defaultHome(),
): Promise<RunOutcome & { retriedAfter?: string }> {
  const first = await runLifecycle(lab, o, emit, signal, h);
  if (!first.unstable || o.mode !== 'run' || signal.aborted || !readConfig().retry) return first;
  // with --keep the first attempt's machines are still up (one of them broken): they make way for the second
  // attempt, which is the one kept; the first attempt's report stays
  if (o.keep && first.store) {
    const t = await teardown(providerFor(first.store.state), first.store, emit, h);
    if (t.leaks.length || t.refused.length) return first;
  }
  const kept = o.reportDir ? moveAttempt(o.reportDir, first.files, 1) : first.reportDir;
  const message = `${first.unstable.message} (its consoles and report: ${kept}); running the lab once more (VIRTLAB_RETRY=0 turns this off)`;
  emit({ type: 'log', level: 'warn', message });
  return { ...(await runLifecycle(lab, o, emit, signal, h)), retriedAfter: kept };
}

/** Moves the files an attempt wrote inside dir into dir/attempt-N/, keeping their relative paths. */
export function moveAttempt(dir: string, files: string[], n: number): string {
  const dest = join(dir, `attempt-${n}`);
  for (const f of files) {
    const rel = relative(dir, f);
    if (!rel || rel.startsWith('..') || rel.startsWith(sep) || !existsSync(f)) continue;
    mkdirSync(dirname(join(dest, rel)), { recursive: true, mode: 0o700 });
    renameSync(f, join(dest, rel));
  }
  return dest;
}
