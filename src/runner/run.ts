// The lifecycle of a lab run, in fixed stages:
// preflight -> up -> provision -> upload -> setup -> ready -> assert -> collect -> teardown (always, unless --keep).
// preflight is here; the live stages are a table in stages.ts; collect and teardown are in finish.ts.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HostError, InterruptedError } from '../errors.ts';
import { IntervalClock } from '../host/clock.ts';
import { home as defaultHome, type Home, writableProblem } from '../host/home.ts';
import { type ResolvedImage, resolveImage } from '../host/images.ts';
import { createInstance } from '../host/instance.ts';
import { checkStepIds, type Lab } from '../lab/model.ts';
import { createProvider } from '../providers/index.ts';
import type { Problem, Provider } from '../providers/port.ts';
import type { Emit } from '../report/events.ts';
import { type LifecycleOptions, Run, type RunOutcome } from './context.ts';
import { finishRun } from './finish.ts';
import { ansibleProblems, checkPlaybooks } from './provision.ts';
import { requirementProblems } from './requirements.ts';
import { runLiveStages } from './stages.ts';

export type { LifecycleOptions, RunOutcome } from './context.ts';

export async function runLifecycle(
  lab: Lab,
  o: LifecycleOptions,
  emit: Emit,
  signal: AbortSignal,
  h: Home = defaultHome(),
  provider: Provider = createProvider(o.provider, o.providerOptions),
): Promise<RunOutcome> {
  const t0 = performance.now();
  checkStepIds(lab, o.until, o.skip);
  checkPlaybooks(lab, o.provisioner);
  const clock = new IntervalClock();
  const images = await preflight(lab, provider, h, emit, clock, ansibleProblems(lab, o.provisioner));
  if (signal.aborted) throw new InterruptedError();
  const store = createInstance(h, {
    lab: lab.name,
    labFile: lab.file,
    variant: lab.variant,
    provider: provider.name,
    providerOptions: definedOnly(o.providerOptions),
    name: o.name,
  });
  if (o.until || o.params) {
    store.update((st) => {
      if (o.until) st.until = o.until;
      if (o.params) st.params = o.params;
    });
  }
  const reportDir = o.reportDir ?? store.state.runDir;
  mkdirSync(reportDir, { recursive: true, mode: 0o700 });
  store.record({ kind: 'dir', path: join(store.state.runDir, 'keys'), owner: 'run' });
  const run = new Run(lab, o, provider, h, store, reportDir, images, signal, emit, clock, t0);
  const { instance, runId, runDir } = store.state;
  run.emit({ type: 'run-start', lab: lab.name, instance, runId, runDir, provider: provider.name });
  await runLiveStages(run);
  return finishRun(run);
}

/** Nothing exists yet, so a failure here leaves nothing to remove: every problem at once, then the guest images. */
async function preflight(
  lab: Lab,
  provider: Provider,
  h: Home,
  emit: Emit,
  clock: IntervalClock,
  more: Problem[] = [],
): Promise<Map<string, ResolvedImage>> {
  emit({ type: 'stage-start', stage: 'preflight' });
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  const problems = [...(await provider.preflight(lab, h)), ...(await requirementProblems(lab, provider)), ...more];
  const unwritable = writableProblem(h);
  if (unwritable)
    problems.unshift({ what: unwritable, hint: 'virtlab needs a writable VIRTLAB_HOME (default /var/lib/virtlab)' });
  if (problems.length) {
    emit({ type: 'stage-end', stage: 'preflight', durationMs: ms(), ok: false });
    const list = problems.map((p) => `  - ${p.what}${p.hint ? `\n    fix: ${p.hint}` : ''}`).join('\n');
    throw new HostError(
      `the host is not ready for lab ${lab.name}:\n${list}`,
      'virtlab doctor checks everything at once',
    );
  }
  const images = new Map<string, ResolvedImage>();
  for (const ref of new Set(lab.guests.map((g) => g.image.ref))) {
    images.set(ref, await resolveImage(lab.guests.find((g) => g.image.ref === ref)!.image, h, emit, clock));
  }
  emit({ type: 'stage-end', stage: 'preflight', durationMs: ms(), ok: true });
  return images;
}

function definedOnly(o: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => e[1] !== undefined));
}
