// The lifecycle's live stages as a table: up -> provision -> upload -> setup -> ready -> assert. Each runs inside
// `inStage`, which reports it and says where an error happened; an interrupt or a machine's death stops the table.
import { InterruptedError, MachineDiedError, UsageError, VirtlabError } from '../errors.ts';
import { runAssertions } from '../kinds/checks/index.ts';
import { drawFaults, faultArgv, faultTitle } from '../kinds/faults.ts';
import { readyDeadlineMs, waitReady } from '../kinds/ready.ts';
import { makeSession, nodeExec } from '../kinds/session.ts';
import { executeStep, stepChecks, stepStage, stepTitle } from '../kinds/steps/index.ts';
import type { StepBase } from '../lab/model.ts';
import type { Stage } from '../report/events.ts';
import { machineVersions } from './collect.ts';
import type { Run } from './context.ts';
import { snapshotHostState } from './host-state.ts';
import { runProvisioning } from './provision.ts';

interface StageDef {
  name: Stage;
  when?: (r: Run) => boolean;
  run: (r: Run) => Promise<void>;
}

export const LIVE_STAGES: readonly StageDef[] = [
  { name: 'up', run: bringUp },
  {
    name: 'provision',
    run: (r) => runProvisioning(r.session!, { emit: r.emit, provisioner: r.o.provisioner, signal: r.signal }),
  },
  { name: 'upload', run: (r) => runSteps(r, 'upload') },
  { name: 'setup', run: (r) => runSteps(r, 'setup') },
  { name: 'ready', run: waitGuests },
  { name: 'break', when: (r) => r.o.mode === 'up' && !!r.o.breakFaults, run: breakLab },
  { name: 'assert', when: (r) => r.o.mode === 'run', run: runChecks },
];

/** Runs the live stages; whatever stops them is kept as the run's error (teardown still follows). */
export async function runLiveStages(r: Run): Promise<void> {
  let watchdog: NodeJS.Timeout | undefined;
  const onAbort = () =>
    r.emit({ type: 'interrupted', signal: String((r.signal.reason as Error)?.message ?? 'signal'), stage: r.current });
  r.signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (const st of LIVE_STAGES) {
      if (st.when && !st.when(r)) continue;
      await inStage(r, st.name, () => st.run(r));
      if (st.name === 'up') watchdog = startWatchdog(r);
    }
  } catch (e) {
    r.error = e;
  } finally {
    clearInterval(watchdog);
    r.signal.removeEventListener('abort', onAbort);
  }
  // a machine that died is what ended the run, also when its checks had already failed or been cut short
  if (r.died.signal.aborted && !r.signal.aborted) r.error = r.died.signal.reason;
}

export async function inStage(r: Run, name: Stage, fn: () => Promise<void>): Promise<void> {
  if (r.signal.aborted) throw new InterruptedError();
  r.current = name;
  r.emit({ type: 'stage-start', stage: name });
  const ts = performance.now();
  try {
    await fn();
    r.emit({ type: 'stage-end', stage: name, durationMs: r.ms(ts), ok: true });
  } catch (e) {
    r.emit({ type: 'stage-end', stage: name, durationMs: r.ms(ts), ok: false });
    // a command that failed because its machine died is the machine's death, even before the watchdog saw it (a
    // machine that never came up is not: `up` says why it did not)
    if (name !== 'up') noteCasualties(r);
    if (r.died.signal.aborted && !r.signal.aborted) throw r.died.signal.reason;
    if (r.signal.aborted && !(e instanceof InterruptedError)) throw new InterruptedError(`interrupted during ${name}`);
    // say where it happened: "stage setup: step net-define: define network ... on kvm-01: <cause>"
    if (e instanceof VirtlabError && !e.message.startsWith('stage ')) {
      throw new VirtlabError(`stage ${name}: ${e.message}`, e.exitCode, e.hint, { cause: e });
    }
    throw e;
  }
}

async function bringUp(r: Run): Promise<void> {
  await r.provider.up(r.lab, { store: r.store, home: r.home, emit: r.emit, signal: r.signal, clock: r.clock });
  const s = makeSession(r.lab, r.store, r.provider.attach(r.store, r.clock), r.emit, r.runSignal, r.images);
  r.session = s;
  r.store.update((st) => {
    st.status = 'up';
  });
}

/**
 * The machines' versions, for the report: asked once, while the guests boot (a core is idle then; before, the
 * questions would compete with the machines' daemons starting and delay the guests' launch), or at the end of a run
 * that stopped before its guests booted.
 */
export function gatherVersions(r: Run): Promise<void> {
  const s = r.session;
  if (!s) return Promise.resolve();
  r.versionsDone ??= Promise.all(
    r.lab.machines.map(async (m) => {
      r.versions[m.name] = await machineVersions(s, m.name);
    }),
  ).then(
    () => {},
    () => {},
  );
  return r.versionsDone;
}

/** A machine whose own process died (a VM's QEMU, a namespace's init) ends the run as that machine's death. */
function noteCasualties(r: Run): void {
  if (r.died.signal.aborted || !r.provider.casualties || r.store.state.machines.length === 0) return;
  const dead = r.provider.casualties(r.store)[0];
  if (dead) r.died.abort(new MachineDiedError(dead.machine, dead.why));
}

function startWatchdog(r: Run): NodeJS.Timeout | undefined {
  if (!r.provider.casualties) return undefined;
  return setInterval(() => noteCasualties(r), 1000);
}

export async function runStep(r: Run, stage: Stage, st: StepBase): Promise<void> {
  const ts = performance.now();
  r.emit({ type: 'step-start', stage, id: st.id, title: stepTitle(st) });
  if (r.o.skip.includes(st.id)) {
    r.emit({ type: 'step-end', stage, id: st.id, status: 'skipped', durationMs: 0, detail: 'skipped with --skip' });
    return;
  }
  try {
    const out = await executeStep(st, r.session!);
    r.emit({ type: 'step-end', stage, id: st.id, status: out.status, durationMs: r.ms(ts), detail: out.detail });
  } catch (e) {
    r.emit({
      type: 'step-end',
      stage,
      id: st.id,
      status: 'failed',
      durationMs: r.ms(ts),
      detail: (e as Error).message.split('\n')[0],
    });
    if (!(e instanceof VirtlabError)) throw e;
    throw new VirtlabError(`step ${st.id}: ${e.message}`, e.exitCode, st.hint ?? e.hint, { cause: e });
  }
}

// one after another, guest launches too: launched at once, 16 TCG guests booting together on 2 cores took longer
// (82 s) to all hold a lease than launched in turn (51-69 s)
async function runSteps(r: Run, stage: 'upload' | 'setup'): Promise<void> {
  for (const st of r.todo.filter((x) => stepStage(x) === stage)) {
    if (r.signal.aborted) throw new InterruptedError();
    await runStep(r, stage, st);
  }
}

async function waitGuests(r: Run): Promise<void> {
  const s = r.session!;
  const tw = performance.now();
  // the hypervisors' state after setup, for `virtlab diff`: taken while the guests boot (the checks change none of
  // it), never while a check waits for a reply (a 1 s ping under three labs at once)
  if (r.o.mode === 'run') r.hostStateDone = snapshotHostState(r).catch(() => {});
  gatherVersions(r);
  const ran = new Set(r.todo.filter((x) => !r.o.skip.includes(x.id)).map((x) => x.id));
  const waiting = r.lab.guests.filter((g) => g.wait && ran.has(g.step));
  await Promise.all(
    waiting.map(async (g) => {
      const ts = performance.now();
      const id = `ready-${g.name}`;
      const title = `${g.name} ready (lease + ready line on its console)`;
      const limitMs = readyDeadlineMs(s, g, r.o.readyTimeoutMs);
      r.emit({ type: 'step-start', stage: 'ready', id, title, limitMs });
      try {
        const ready = await waitReady(s, g, r.o.readyTimeoutMs, ran, waiting.length);
        r.emit({
          type: 'step-end',
          stage: 'ready',
          id,
          status: 'ok',
          durationMs: r.ms(ts),
          detail: `${ready.ip}, ${ready.mac}`,
        });
      } catch (e) {
        if (e instanceof InterruptedError) throw e;
        // not fatal: the assertions say what is wrong, with the lab's hints
        r.emit({ type: 'step-end', stage: 'ready', id, status: 'failed', durationMs: r.ms(ts), detail: 'not ready' });
        r.emit({ type: 'log', level: 'warn', message: (e as Error).message });
      }
    }),
  );
  r.waits.push([tw, performance.now()]);
}

/**
 * Break-fix: the exercise's faults drawn for this instance are put into the lab. The console says how many, never
 * which (the state file keeps them for the teacher: `virtlab up --show-solution` prints them).
 */
async function breakLab(r: Run): Promise<void> {
  const ex = r.lab.exercise;
  if (!ex?.faults?.length)
    throw new UsageError(`lab ${r.lab.name} declares no faults (exercise.faults) to --break it with`);
  const chosen = drawFaults(ex.faults, ex.draw ?? ex.faults.length, r.store.state.instance);
  r.store.update((st) => {
    st.faults = chosen.map(faultTitle);
  });
  const ts = performance.now();
  const id = 'break';
  r.emit({
    type: 'step-start',
    stage: 'break',
    id,
    title: `put ${chosen.length} fault(s) into the lab for the student to find`,
  });
  // a fault on a guest (its MAC) goes over the guest's console
  for (const f of chosen) await nodeExec(r.session!, f.on).run(faultArgv(f, r.lab));
  r.emit({ type: 'step-end', stage: 'break', id, status: 'changed', durationMs: r.ms(ts) });
}

async function runChecks(r: Run): Promise<void> {
  // checks that a check step ran already (a phase of the lab) are not run again
  const done = new Set(r.todo.filter((x) => !r.o.skip.includes(x.id)).flatMap(stepChecks));
  const todo = r.lab.assertions.filter((a) => !done.has(a.id));
  // the host state's commands end before the first check (a lab whose guests were ready at once)
  await r.hostStateDone;
  await runAssertions(todo, r.session!, (result) => r.emit({ type: 'assertion', result }));
}
