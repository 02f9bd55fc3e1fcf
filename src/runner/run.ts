// The lifecycle of a lab run, in fixed stages:
// preflight -> up -> provision -> upload -> setup -> ready -> assert -> collect -> teardown (always, unless --keep).
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, HostError, InterruptedError, MachineDiedError, UsageError, VirtlabError } from '../errors.ts';
import type { Lab } from '../lab/model.ts';
import { builtinProviders } from '../providers/index.ts';
import type { Provider } from '../providers/provider.ts';
import type { AssertionResult, Emit, RunEvent } from '../report/events.ts';
import { runAssertion } from '../assertions/index.ts';
import { collectConsoles, collectEvidence, troubledGuests, machineVersions, type MachineVersions } from './collect.ts';
import { home as defaultHome, writableProblem, type Home } from './home.ts';
import { resolveImage, type ResolvedImage } from './images.ts';
import { createInstance } from './instance.ts';
import { stepTitle, type Stage } from './plan.ts';
import { runProvisioning } from './provision.ts';
import { waitReady } from './ready.ts';
import { writeReports, type RunReport } from './report-files.ts';
import { closeAll, inVm, makeSession, type Session } from './session.ts';
import type { StateStore } from './state.ts';
import { executeStep } from './steps.ts';
import { IntervalClock } from './clock.ts';
import { score } from './score.ts';
import { teardown } from './teardown.ts';

export interface LifecycleOptions {
  mode: 'run' | 'up';
  provider: string;
  reportDir?: string;
  keep: boolean;
  until?: string;
  skip: string[];
  name?: string;
  collect: 'on-failure' | 'always';
  readyTimeoutMs: number;
  /** ssh provider: inventory of existing hosts */
  inventory?: string;
  /** vm provider: the kernel hypervisor VMs boot */
  kernel?: string;
  /** json, junit, html (default) and tap */
  reportFormats?: string[];
}

export interface RunOutcome {
  exitCode: number;
  result: 'pass' | 'fail' | 'error' | 'interrupted';
  reportDir?: string;
  results: AssertionResult[];
  store?: StateStore;
  /**
   * What went wrong beneath the lab, when the run is worth trying once more: a machine that died mid-run, or a
   * failed run in which a guest rebooted unasked or a guest inside a VM never began to boot (nested KVM under TCG
   * does each now and then)
   */
  unstable?: string;
}

export function checkStepIds(lab: Lab, until: string | undefined, skip: string[]): void {
  const ids = lab.steps.map((s) => s.id);
  for (const id of [...(until ? [until] : []), ...skip]) {
    if (!ids.includes(id)) throw new UsageError(`lab ${lab.name} has no step "${id}"`, `its steps: ${ids.join(', ')}`);
  }
}

export async function runLifecycle(
  lab: Lab,
  o: LifecycleOptions,
  emitOut: Emit,
  signal: AbortSignal,
  h: Home = defaultHome(),
): Promise<RunOutcome> {
  checkStepIds(lab, o.until, o.skip);
  const provider: Provider = builtinProviders().get(o.provider, { inventory: o.inventory, kernel: o.kernel });
  const t0 = performance.now();
  const clock = new IntervalClock();
  const waits: [number, number][] = []; // waiting for guests to boot is neither a command nor virtlab's own time
  const rec = new Recorder(emitOut);
  const emit = rec.emit;

  // preflight: nothing exists yet, so a failure here leaves nothing to remove
  emit({ type: 'stage-start', stage: 'preflight' });
  const tp = performance.now();
  const problems = await provider.preflight(lab, h);
  const unwritable = writableProblem(h);
  if (unwritable)
    problems.unshift({ what: unwritable, hint: 'virtlab needs a writable VIRTLAB_HOME (default /var/lib/virtlab)' });
  if (problems.length) {
    emit({ type: 'stage-end', stage: 'preflight', durationMs: ms(tp), ok: false });
    throw new HostError(
      `the host is not ready for lab ${lab.name}:\n${problems.map((p) => `  - ${p.what}${p.hint ? `\n    fix: ${p.hint}` : ''}`).join('\n')}`,
      'virtlab doctor checks everything at once',
    );
  }
  const images = new Map<string, ResolvedImage>();
  for (const ref of new Set(lab.guests.map((g) => g.image.ref)))
    images.set(ref, await resolveImage(lab.guests.find((g) => g.image.ref === ref)!.image, h, emit, clock));
  emit({ type: 'stage-end', stage: 'preflight', durationMs: ms(tp), ok: true });
  if (signal.aborted) throw new InterruptedError();

  const store = createInstance(h, lab, provider.name, o.name);
  if (o.until)
    store.update((st) => {
      st.until = o.until;
    });
  const reportDir = o.reportDir ?? store.state.runDir;
  mkdirSync(reportDir, { recursive: true, mode: 0o700 });
  store.record({ kind: 'dir', path: join(store.state.runDir, 'keys'), owner: 'run' });
  emit({
    type: 'run-start',
    lab: lab.name,
    instance: store.state.instance,
    runId: store.state.runId,
    runDir: store.state.runDir,
    provider: provider.name,
  });

  let session: Session | undefined;
  let error: unknown;
  const versions: Record<string, MachineVersions> = {};
  let versionsDone: Promise<void> = Promise.resolve();
  let current: Stage | undefined;
  // a machine that dies mid-run (a VM's kernel panics) stops the run at once instead of every check timing out
  const died = new AbortController();
  const runSignal = AbortSignal.any([signal, died.signal]);
  let watchdog: NodeJS.Timeout | undefined;
  const onAbort = () =>
    emit({ type: 'interrupted', signal: String((signal.reason as Error)?.message ?? 'signal'), stage: current });
  signal.addEventListener('abort', onAbort, { once: true });
  const stage = async (name: Stage, fn: () => Promise<void>) => {
    if (signal.aborted) throw new InterruptedError();
    current = name;
    emit({ type: 'stage-start', stage: name });
    const ts = performance.now();
    try {
      await fn();
      emit({ type: 'stage-end', stage: name, durationMs: ms(ts), ok: true });
    } catch (e) {
      emit({ type: 'stage-end', stage: name, durationMs: ms(ts), ok: false });
      if (died.signal.aborted && !signal.aborted) throw died.signal.reason;
      if (signal.aborted && !(e instanceof InterruptedError)) throw new InterruptedError(`interrupted during ${name}`);
      // say where it happened: "stage setup: step net-define: define network ... on kvm-01: <cause>"
      if (e instanceof VirtlabError && !e.message.startsWith('stage '))
        throw new VirtlabError(`stage ${name}: ${e.message}`, e.exitCode, e.hint, { cause: e });
      throw e;
    }
  };

  try {
    await stage('up', async () => {
      await provider.up(lab, { store, home: h, emit, signal, clock });
      session = makeSession(lab, store, provider.attach(store, clock), emit, runSignal);
      if (provider.casualties) {
        watchdog = setInterval(() => {
          const dead = provider.casualties!(store)[0];
          if (dead && !died.signal.aborted) died.abort(new MachineDiedError(dead.machine, dead.why));
        }, 1000);
      }
      for (const i of images.values()) if (i.login) session.logins.set(i.ref, i.login);
      store.update((s) => {
        s.status = 'up';
      });
      // versions are for the report: gather them while the next stages run
      versionsDone = Promise.all(
        lab.machines.map(async (m) => {
          versions[m.name] = await machineVersions(session!, m.name);
        }),
      ).then(
        () => {},
        () => {},
      );
    });
    const s = session!;
    await stage('provision', () => runProvisioning(s, emit));
    const cut = o.until ? lab.steps.findIndex((x) => x.id === o.until) : lab.steps.length;
    const todo = lab.steps.slice(0, cut);
    const runStep = async (stageName: Stage, st: (typeof lab.steps)[number]) => {
      const ts = performance.now();
      emit({ type: 'step-start', stage: stageName, id: st.id, title: stepTitle(st) });
      if (o.skip.includes(st.id)) {
        emit({
          type: 'step-end',
          stage: stageName,
          id: st.id,
          status: 'skipped',
          durationMs: 0,
          detail: 'skipped with --skip',
        });
        return;
      }
      try {
        const out = await executeStep(st, s, images);
        emit({
          type: 'step-end',
          stage: stageName,
          id: st.id,
          status: out.status,
          durationMs: ms(ts),
          detail: out.detail,
        });
      } catch (e) {
        emit({
          type: 'step-end',
          stage: stageName,
          id: st.id,
          status: 'failed',
          durationMs: ms(ts),
          detail: (e as Error).message.split('\n')[0],
        });
        throw e instanceof VirtlabError
          ? new VirtlabError(`step ${st.id}: ${e.message}`, e.exitCode, st.hint ?? e.hint, { cause: e })
          : e;
      }
    };
    // one after another, guest launches too: launched at once, 16 TCG guests booting together on 2 cores took longer
    // (82 s) to all hold a lease than launched in turn (51-69 s)
    const runSteps = async (stageName: Stage, steps: typeof lab.steps) => {
      for (const st of steps) {
        if (signal.aborted) throw new InterruptedError();
        await runStep(stageName, st);
      }
    };
    await stage('upload', () =>
      runSteps(
        'upload',
        todo.filter((x) => x.kind === 'upload'),
      ),
    );
    await stage('setup', () =>
      runSteps(
        'setup',
        todo.filter((x) => x.kind !== 'upload'),
      ),
    );
    await stage('ready', async () => {
      const tw = performance.now();
      const ran = new Set(todo.filter((x) => !o.skip.includes(x.id)).map((x) => x.id));
      const launched = new Set(todo.filter((x) => x.kind === 'guest' && ran.has(x.id)).map((x) => x.id));
      const waiting = lab.guests.filter((g) => g.wait && launched.has(g.step));
      await Promise.all(
        waiting.map(async (g) => {
          const ts = performance.now();
          emit({
            type: 'step-start',
            stage: 'ready',
            id: `ready-${g.name}`,
            title: `${g.name} ready (lease + ready line on its console)`,
          });
          try {
            const r = await waitReady(s, g, o.readyTimeoutMs, ran, waiting.length);
            emit({
              type: 'step-end',
              stage: 'ready',
              id: `ready-${g.name}`,
              status: 'ok',
              durationMs: ms(ts),
              detail: `${r.ip}, ${r.mac}`,
            });
          } catch (e) {
            if (e instanceof InterruptedError) throw e;
            // not fatal: the assertions say what is wrong, with the lab's hints
            emit({
              type: 'step-end',
              stage: 'ready',
              id: `ready-${g.name}`,
              status: 'failed',
              durationMs: ms(ts),
              detail: 'not ready',
            });
            emit({ type: 'log', level: 'warn', message: (e as Error).message });
          }
        }),
      );
      waits.push([tw, performance.now()]);
    });
    if (o.mode === 'run') {
      await stage('assert', async () => {
        // checks that a check step ran already (a phase of the lab) are not run again
        const done = new Set(todo.flatMap((x) => (x.kind === 'check' && !o.skip.includes(x.id) ? x.assertions : [])));
        await Promise.all(
          lab.assertions
            .filter((a) => !done.has(a.id))
            .map(async (a) => emit({ type: 'assertion', result: await runAssertion(a, s) })),
        );
      });
    }
  } catch (e) {
    error = e;
  }
  clearInterval(watchdog);
  // a machine that died is what ended the run, also when its checks had already failed or been cut short
  if (died.signal.aborted && !signal.aborted) error = died.signal.reason;

  await versionsDone;
  for (const m of lab.machines.filter((x) => x.role === 'hypervisor' && versions[x.name])) {
    const v = versions[m.name]!;
    const h = session?.machines.get(m.name);
    const how = h?.kind ? ` (${h.kind}, guests under ${h.guestVirt === 'kvm' ? 'KVM' : 'TCG'})` : '';
    emit({
      type: 'log',
      level: 'info',
      message: `${m.name}${how}: kernel ${v.kernel}, ${v.distribution}, libvirt ${v.libvirt ?? '?'}, QEMU ${v.qemu ?? '?'}`,
    });
  }
  if (images.size)
    emit({
      type: 'log',
      level: 'info',
      message: `images: ${[...images.values()].map((i) => `${i.ref} = ${i.source}`).join('; ')}`,
    });
  const failed = error !== undefined || rec.results.some((r) => r.status === 'fail');
  if (session && lab.teardown.length && !o.keep && !(o.mode === 'up' && !error) && !died.signal.aborted) {
    // the lab's own teardown steps run while the machines are still there; a failure here is reported, not fatal
    for (const st of lab.teardown) {
      const ts = performance.now();
      emit({ type: 'step-start', stage: 'teardown', id: st.id, title: stepTitle(st) });
      try {
        const out = await executeStep(st, session, images);
        emit({
          type: 'step-end',
          stage: 'teardown',
          id: st.id,
          status: out.status,
          durationMs: ms(ts),
          detail: out.detail,
        });
      } catch (e) {
        emit({
          type: 'step-end',
          stage: 'teardown',
          id: st.id,
          status: 'failed',
          durationMs: ms(ts),
          detail: (e as Error).message.split('\n')[0],
        });
      }
    }
  }
  let troubled: ReturnType<typeof troubledGuests> = { rebooted: [], silent: [] };
  if (session) {
    // a dead machine has nothing to collect from (its own console is kept below)
    try {
      if (!died.signal.aborted) {
        await stage('collect', async () => {
          const files = await collectConsoles(session!, reportDir);
          troubled = troubledGuests(files);
          if (failed || o.collect === 'always') files.push(...(await collectEvidence(session!, reportDir)));
          rec.files.push(...files);
        });
      }
    } catch {
      /* evidence is best effort; teardown must still run */
    }
    await closeAll(session);
  }
  // machines' own consoles (VM machines), kept even when they never came up: that is when they matter most
  for (const l of provider.logs?.(store) ?? []) {
    try {
      mkdirSync(join(reportDir, 'consoles'), { recursive: true, mode: 0o700 });
      copyFileSync(l.path, join(reportDir, 'consoles', `machine-${l.name}.log`));
      rec.files.push(join(reportDir, 'consoles', `machine-${l.name}.log`));
    } catch {
      /* best effort */
    }
  }

  // failed checks say little about the lab when a guest rebooted unasked, or a nested guest (inside a VM) hung at
  // its first boot: nested KVM under TCG does both now and then
  const hung = session ? troubled.silent.filter((g) => inVm(session!, g)) : [];
  const unstable =
    error instanceof MachineDiedError
      ? `machine ${error.machine} died during the run`
      : failed && !error && troubled.rebooted.length
        ? `guest ${troubled.rebooted.join(', ')} rebooted during the run without being asked (its console shows the boot twice)`
        : failed && !error && hung.length
          ? `guest ${hung.join(', ')} never started booting inside its VM hypervisor (its console stayed empty)`
          : undefined;
  if (unstable && !(error instanceof MachineDiedError)) emit({ type: 'log', level: 'warn', message: unstable });

  const interrupted = error instanceof InterruptedError || signal.aborted;
  const result: RunOutcome['result'] = interrupted ? 'interrupted' : error ? 'error' : failed ? 'fail' : 'pass';
  let exitCode: number = interrupted
    ? EXIT.interrupted
    : error instanceof VirtlabError
      ? error.exitCode
      : error
        ? EXIT.host
        : failed
          ? EXIT.assertion
          : EXIT.ok;
  let message = error
    ? `${(error as Error).message}${error instanceof VirtlabError && error.hint ? `\nhint: ${error.hint}` : ''}`
    : undefined;
  if (error && !(error instanceof VirtlabError)) message = `internal error: ${(error as Error).stack}`;

  const keep = o.keep || (o.mode === 'up' && !error && !interrupted);
  if (keep) {
    store.update((st) => {
      st.status = 'kept';
    });
  } else {
    const leaks = await teardown(provider, store, emit, clock);
    if (leaks.length) {
      exitCode = exitCode === EXIT.ok || exitCode === EXIT.assertion ? EXIT.host : exitCode;
      message = `${message ? `${message}\n` : ''}teardown left resources behind: ${leaks.join(', ')}\nhint: virtlab down ${store.state.instance} retries the removal`;
    }
  }

  const report: RunReport = {
    lab: lab.name,
    description: lab.description,
    instance: store.state.instance,
    runId: store.state.runId,
    provider: provider.name,
    result,
    exitCode,
    startedAt: store.state.createdAt,
    durationMs: ms(t0),
    stages: rec.stages,
    steps: rec.steps,
    assertions: rec.results,
    machines: lab.machines.map((m) => {
      const h = session?.machines.get(m.name);
      return {
        name: m.name,
        role: m.role,
        ram: m.ram,
        vcpu: m.vcpu,
        ...versions[m.name],
        ...(h?.kind ? { kind: h.kind } : {}),
        ...(m.role === 'hypervisor' && h ? { guests: h.guestVirt === 'kvm' ? 'KVM' : 'TCG' } : {}),
      };
    }),
    images: [...images.values()].map((i) => ({ ref: i.ref, source: i.source })),
    files: rec.files,
    error: message,
    ...(lab.exercise ? { score: score(rec.results) } : {}),
    timing: {
      commandMs: Math.round(clock.covered()),
      waitMs: Math.round(clock.covered(waits) - clock.covered()),
      overheadMs: Math.round(ms(t0) - clock.covered(waits)),
    },
  };
  signal.removeEventListener('abort', onAbort);
  try {
    writeReports(reportDir, report, lab, o.reportFormats);
  } catch (e) {
    emit({ type: 'log', level: 'warn', message: `cannot write the report into ${reportDir}: ${(e as Error).message}` });
  }
  emit({ type: 'run-end', result, exitCode, durationMs: ms(t0), reportDir, message });
  return { exitCode, result, reportDir, results: rec.results, store, ...(unstable ? { unstable } : {}) };
}

function ms(t: number): number {
  return Math.round(performance.now() - t);
}

/** Keeps what the report files need while passing every event on. */
class Recorder {
  readonly results: AssertionResult[] = [];
  readonly stages: Partial<Record<Stage, number>> = {};
  readonly steps: { stage: Stage; id: string; title: string; status: string; durationMs: number; detail?: string }[] =
    [];
  readonly files: string[] = [];
  private readonly titles = new Map<string, string>();
  constructor(private readonly out: Emit) {}
  emit = (e: RunEvent): void => {
    if (e.type === 'assertion') this.results.push(e.result);
    if (e.type === 'stage-end') this.stages[e.stage] = (this.stages[e.stage] ?? 0) + e.durationMs;
    if (e.type === 'step-start') this.titles.set(e.id, e.title);
    if (e.type === 'step-end')
      this.steps.push({
        stage: e.stage,
        id: e.id,
        title: this.titles.get(e.id) ?? e.id,
        status: e.status,
        durationMs: e.durationMs,
        detail: e.detail,
      });
    this.out(e);
  };
}
