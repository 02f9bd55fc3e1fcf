// The end of every run, whatever happened before: the lab's own teardown steps, evidence, the machines' consoles,
// whether the run is worth a retry, teardown and the leak check, the exit code, and the report.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConnectionLostError, EXIT, exitCodeFor, InterruptedError, MachineDiedError, VirtlabError } from '../errors.ts';
import type { PingAssertion } from '../kinds/checks/ping.ts';
import { closeAll, inVm } from '../kinds/session.ts';
import { executeStep, stepTitle } from '../kinds/steps/index.ts';
import type { AssertionResult } from '../report/events.ts';
import { consoleGuest, NO_CONSOLE_ANSWER } from '../transport/console.ts';
import { collectConsoles, collectEvidence, stalledMachines, troubledGuests } from './collect.ts';
import type { Run, RunOutcome, Unstable } from './context.ts';
import { writeHostState } from './host-state.ts';
import { runReport } from './report-build.ts';
import { writeReports } from './report-files.ts';
import { gatherVersions, inStage } from './stages.ts';
import { teardown } from './teardown.ts';
import { traceLine, tracePing } from './trace.ts';

export async function finishRun(r: Run): Promise<RunOutcome> {
  // a run stopped before its guests booted asks now, unless nothing answers any more
  if (!r.died.signal.aborted && !r.signal.aborted) await gatherVersions(r);
  await r.versionsDone;
  await r.hostStateDone;
  logVersions(r);
  const failed = r.error !== undefined || r.rec.results.some((x) => x.status === 'fail');
  const died = r.died.signal.aborted;
  if (r.session && r.lab.teardown.length && !r.o.keep && !(r.o.mode === 'up' && !r.error) && !died)
    await labTeardown(r);
  let troubled: ReturnType<typeof troubledGuests> = { rebooted: [], silent: [] };
  if (r.session) {
    // a dead machine has nothing to collect from (its own console is kept below)
    if (!died) troubled = await collect(r, failed);
    await closeAll(r.session);
  }
  keepMachineLogs(r);
  const unstable = classify(r, failed, troubled);
  if (unstable && unstable.reason !== 'machine-died') r.emit({ type: 'log', level: 'warn', message: unstable.message });

  const interrupted = r.error instanceof InterruptedError || r.signal.aborted;
  const result: RunOutcome['result'] = interrupted ? 'interrupted' : r.error ? 'error' : failed ? 'fail' : 'pass';
  let exitCode: number = interrupted
    ? EXIT.interrupted
    : r.error
      ? exitCodeFor(r.error)
      : failed
        ? EXIT.assertion
        : EXIT.ok;
  let message = errorMessage(r.error);
  const keep = r.o.keep || (r.o.mode === 'up' && !r.error && !interrupted);
  if (keep) {
    r.store.update((st) => {
      st.status = 'kept';
    });
  } else {
    const { leaks, refused } = await teardown(r.provider, r.store, r.emit, r.home, r.clock);
    const left = [...leaks, ...refused.map((x) => `${x} (not this run's: left alone)`)];
    if (left.length) {
      if (exitCode === EXIT.ok || exitCode === EXIT.assertion) exitCode = EXIT.host;
      const hint = `hint: virtlab down ${r.store.state.instance} retries the removal`;
      message = `${message ? `${message}\n` : ''}teardown left resources behind: ${left.join(', ')}\n${hint}`;
    }
  }
  const stateFile = writeHostState(r);
  if (stateFile) r.rec.files.push(stateFile);
  const report = runReport(r, result, exitCode, message);
  try {
    r.rec.files.push(...writeReports(r.reportDir, report, r.lab, r.o.reportFormats));
  } catch (e) {
    r.emit({
      type: 'log',
      level: 'warn',
      message: `cannot write the report into ${r.reportDir}: ${(e as Error).message}`,
    });
  }
  const html = r.rec.files.find((f) => f.endsWith('/report.html'));
  r.emit({
    type: 'run-end',
    result,
    exitCode,
    durationMs: r.ms(),
    reportDir: r.reportDir,
    ...(html ? { report: html } : {}),
    ...(report.score ? { score: report.score } : {}),
    message,
  });
  const files = r.rec.files;
  return {
    exitCode,
    result,
    reportDir: r.reportDir,
    results: r.rec.results,
    store: r.store,
    files,
    ...(unstable ? { unstable } : {}),
  };
}

function logVersions(r: Run): void {
  for (const m of r.lab.machines.filter((x) => x.role === 'hypervisor' && r.versions[x.name])) {
    const v = r.versions[m.name]!;
    const h = r.session?.machines.get(m.name);
    const how = h?.kind ? ` (${h.kind}, guests under ${h.guestVirt === 'kvm' ? 'KVM' : 'TCG'})` : '';
    const message = `${m.name}${how}: kernel ${v.kernel}, ${v.distribution}, libvirt ${v.libvirt ?? '?'}, QEMU ${v.qemu ?? '?'}`;
    r.emit({ type: 'log', level: 'info', message });
  }
  if (r.images.size) {
    const message = `images: ${[...r.images.values()].map((i) => `${i.ref} = ${i.source}`).join('; ')}`;
    r.emit({ type: 'log', level: 'info', message });
  }
}

/** The lab's own teardown steps run while the machines are still there; a failure is reported, not fatal. */
async function labTeardown(r: Run): Promise<void> {
  for (const st of r.lab.teardown) {
    const ts = performance.now();
    r.emit({ type: 'step-start', stage: 'teardown', id: st.id, title: stepTitle(st) });
    try {
      const out = await executeStep(st, r.session!);
      r.emit({
        type: 'step-end',
        stage: 'teardown',
        id: st.id,
        status: out.status,
        durationMs: r.ms(ts),
        detail: out.detail,
      });
    } catch (e) {
      const detail = (e as Error).message.split('\n')[0];
      r.emit({ type: 'step-end', stage: 'teardown', id: st.id, status: 'failed', durationMs: r.ms(ts), detail });
    }
  }
}

async function collect(r: Run, failed: boolean): Promise<ReturnType<typeof troubledGuests>> {
  let troubled: ReturnType<typeof troubledGuests> = { rebooted: [], silent: [] };
  try {
    await inStage(r, 'collect', async () => {
      const files = await collectConsoles(r.session!, r.reportDir);
      troubled = troubledGuests(files);
      if (failed || r.o.collect === 'always') files.push(...(await collectEvidence(r.session!, r.reportDir)));
      if (failed) files.push(...(await traceFailedPings(r)));
      r.rec.files.push(...files);
    });
  } catch {
    /* evidence is best effort; teardown must still run */
  }
  return troubled;
}

/** Where did the packet die: the first failed pings run again with captures along their paths. */
async function traceFailedPings(r: Run): Promise<string[]> {
  const files: string[] = [];
  if (r.signal.aborted || r.died.signal.aborted) return files;
  const failed = r.rec.results.filter((x) => x.kind === 'ping' && x.status === 'fail' && x.observed === 'fail');
  for (const res of failed.filter((x) => !x.reason.startsWith('cannot check:')).slice(0, 2)) {
    const a = r.lab.assertions.find((x) => x.id === res.id) as PingAssertion | undefined;
    if (!a) continue;
    try {
      const t = await tracePing(
        r.session!,
        a,
        join(r.reportDir, 'evidence', res.id),
        `${r.store.state.runId}-${res.id}`,
      );
      if (!t) continue;
      res.trace = t;
      files.push(...t.hops.flatMap((h) => (h.pcap ? [h.pcap] : [])));
      r.emit({
        type: 'log',
        level: 'info',
        message: `${traceLine(res)} (pcaps in ${join(r.reportDir, 'evidence', res.id)})`,
      });
    } catch {
      /* a trace is a bonus: the failure stands without it */
    }
  }
  return files;
}

/** Machines' own consoles (VM machines) and the LANs' logs, kept even when they never came up: then they matter most. */
function keepMachineLogs(r: Run): void {
  for (const l of r.provider.logs?.(r.store) ?? []) {
    try {
      mkdirSync(join(r.reportDir, 'consoles'), { recursive: true, mode: 0o700 });
      copyFileSync(l.path, join(r.reportDir, 'consoles', l.file));
      r.rec.files.push(join(r.reportDir, 'consoles', l.file));
    } catch {
      /* best effort */
    }
  }
}

/** The VM machines' own consoles (their kernels' logs), as the provider keeps them. */
function machineConsoles(r: Run): { machine: string; text: string }[] {
  return (r.provider.logs?.(r.store) ?? []).flatMap((l) => {
    const m = /^machine-(.+)\.log$/.exec(l.file);
    if (!m || l.file.endsWith('-qemu-stderr.log')) return [];
    try {
      return [{ machine: m[1]!, text: readFileSync(l.path, 'utf8') }];
    } catch {
      return [];
    }
  });
}

/**
 * Failed checks say little about the lab when a machine died or its kernel stalled, a guest rebooted unasked, or a
 * nested guest (inside a VM) hung at its first boot: nested KVM under TCG does each now and then.
 */
function classify(r: Run, failed: boolean, troubled: ReturnType<typeof troubledGuests>): Unstable | undefined {
  if (r.error instanceof MachineDiedError) {
    return { reason: 'machine-died', message: `machine ${r.error.machine} died during the run` };
  }
  if (!failed || r.error instanceof InterruptedError || r.signal.aborted) return undefined;
  // a hypervisor VM whose kernel stalled: whatever failed (a check or a step) failed on a broken machine
  const stalled = stalledMachines(machineConsoles(r));
  if (stalled.length) {
    const message = `the kernel of ${stalled.map((s) => `${s.machine} broke down ("${s.line}" on its console)`).join(', ')}`;
    return { reason: 'machine-stalled', message };
  }
  // a step's or a stage's error wraps the lost connection (its cause)
  const lost = causeOf(r.error, ConnectionLostError);
  if (lost && r.session?.machines.get(lost.machine)?.vm)
    return { reason: 'machine-stalled', message: `${lost.machine} (a VM) stopped answering over ssh mid-command` };
  if (r.error) return undefined;
  if (troubled.rebooted.length) {
    const message = `guest ${troubled.rebooted.join(', ')} rebooted during the run without being asked (its console shows the boot twice)`;
    return { reason: 'guest-rebooted', message };
  }
  const hung = r.session ? troubled.silent.filter((g) => inVm(r.session!, g)) : [];
  if (hung.length) {
    const message = `guest ${hung.join(', ')} never started booting inside its VM hypervisor (its console stayed empty)`;
    return { reason: 'guest-hung', message };
  }
  const stuck = r.session ? consoleStalls(r.rec.results).filter((g) => inVm(r.session!, g)) : [];
  if (stuck.length) {
    const message = `guest ${stuck.join(', ')} stopped answering on its serial console inside its VM hypervisor`;
    return { reason: 'guest-stalled', message };
  }
  return undefined;
}

/** The guests a check typed a command to on the serial console and never heard back from. */
export function consoleStalls(results: AssertionResult[]): string[] {
  const names = results.flatMap((x) =>
    x.evidence.flatMap((e) =>
      e.exitCode === 124 && e.stderr === NO_CONSOLE_ANSWER ? (consoleGuest(e.machine) ?? []) : [],
    ),
  );
  return [...new Set(names)];
}

/** The error itself or the first error of its cause chain that is a T. */
export function causeOf<T extends Error>(e: unknown, kind: new (...args: never[]) => T): T | undefined {
  for (let x = e, depth = 0; x instanceof Error && depth < 10; x = x.cause, depth++) if (x instanceof kind) return x;
  return undefined;
}

function errorMessage(error: unknown): string | undefined {
  if (error === undefined) return undefined;
  if (!(error instanceof VirtlabError)) return `internal error: ${(error as Error)?.stack ?? String(error)}`;
  return `${error.message}${error.hint ? `\nhint: ${error.hint}` : ''}`;
}
