// More attempts (up to two) when something beneath the lab went wrong (see Unstable in context.ts): nested KVM
// under TCG now and then kills a VM, reboots or stalls a guest, or hangs one at boot (HOST-NOTES). Each retry is said
// aloud, and every earlier attempt's report stays: in its own run folder, or, when the attempts share a
// --report-dir, moved into <report-dir>/attempt-N/ (only the files the attempt wrote; nothing else is touched).
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { readConfig } from '../host/config.ts';
import type { Home } from '../host/home.ts';
import { home as defaultHome } from '../host/home.ts';
import type { Lab } from '../lab/model.ts';
import { providerFor } from '../providers/index.ts';
import type { Provider } from '../providers/port.ts';
import type { Emit } from '../report/events.ts';
import { type LifecycleOptions, type RunOutcome, runLifecycle } from './run.ts';
import { teardown } from './teardown.ts';

/** Attempts after the first, while each one fails for something beneath the lab. */
export const RETRIES = 2;

export async function runWithRetry(
  lab: Lab,
  o: LifecycleOptions,
  emit: Emit,
  signal: AbortSignal,
  h: Home = defaultHome(),
  /** each attempt's provider (default: the one the options name) */
  makeProvider?: () => Provider,
): Promise<RunOutcome & { retriedAfter?: string }> {
  const attempt = () => runLifecycle(lab, o, emit, signal, h, makeProvider?.());
  let last: RunOutcome & { retriedAfter?: string } = await attempt();
  // nested KVM under TCG can break two attempts in a row (a guest rebooted, then another's console stalled: seen
  // in one CI run), so a run is tried up to twice more; every attempt's report is kept
  for (let n = 1; n <= RETRIES; n++) {
    if (!last.unstable || o.mode !== 'run' || signal.aborted || !readConfig().retry) return last;
    // with --keep the attempt's machines are still up (one of them broken): they make way for the next attempt,
    // which is the one kept; the attempt's report stays
    if (o.keep && last.store) {
      const t = await teardown(providerFor(last.store.state), last.store, emit, h);
      if (t.leaks.length || t.refused.length) return last;
    }
    const kept = o.reportDir ? moveAttempt(o.reportDir, last.files, n) : last.reportDir;
    const message = `${last.unstable.message} (its consoles and report: ${kept}); running the lab once more (VIRTLAB_RETRY=0 turns this off)`;
    emit({ type: 'log', level: 'warn', message });
    last = { ...(await attempt()), retriedAfter: kept };
  }
  return last;
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
