// The commands that act on lab instances that are up: down, status, ssh, check, explain.
import { existsSync, rmSync } from 'node:fs';
import { EXIT, HostError, UsageError } from '../errors.ts';
import { home } from '../host/home.ts';
import { existingInstance, runnerAlive } from '../host/instance.ts';
import { instanceName } from '../host/names.ts';
import { isVirtlabProcess } from '../host/proc.ts';
import { claimReportDir } from '../host/report-dir.ts';
import { StateStore } from '../host/state.ts';
import { loadLab, studentParams } from '../lab/load.ts';
import { providerFor } from '../providers/index.ts';
import { teardown } from '../runner/teardown.ts';
import type { Options } from './args.ts';
import { explain } from './course.ts';
import { checkInstance } from './grade.ts';
import { interrupts } from './interrupts.ts';
import { reportFormats } from './options.ts';
import { oneLab, reporter } from './output.ts';

export function instanceStore(name: string): StateStore {
  const st = existingInstance(home(), name);
  if (!st) {
    const up = StateStore.list(home()).map((x) => x.state.instance);
    throw new HostError(
      `no lab instance "${name}" is up`,
      up.length ? `instances up: ${up.join(', ')}` : 'start one with: virtlab up <lab>',
    );
  }
  return st;
}

/** A run still going is asked to stop and clean up after itself (only when it really is that virtlab run). */
async function stopRunner(store: StateStore): Promise<boolean> {
  const s = store.state;
  if (s.runner.pid === process.pid || !runnerAlive(store) || s.status === 'kept') return false;
  if (!isVirtlabProcess(s.runner.pid)) return false;
  process.kill(s.runner.pid, 'SIGTERM');
  for (let i = 0; i < 200 && existsSync(store.path) && runnerAlive(store); i++)
    await new Promise((r) => setTimeout(r, 100));
  return !existsSync(store.path);
}

export async function down(o: Options): Promise<number> {
  if (o.class !== undefined) {
    if (o.args.length || o.all) throw new UsageError('down --class takes no instance names and no --all');
    const { readClass } = await import('./class.ts');
    return down({ ...o, class: undefined, args: readClass(o.class) });
  }
  const h = home();
  const picks = [o.all, o.stale, o.args.length > 0].filter(Boolean).length;
  if (picks > 1) throw new UsageError('down takes one of: instance names, --all or --stale');
  if (!picks)
    throw new UsageError(
      'down needs an instance name, --all or --stale',
      'virtlab down <instance> (see virtlab status)',
    );
  if (o.forceForget) return forget(o);
  const scan = o.all || o.stale ? StateStore.scan(h) : { stores: o.args.map(instanceStore), broken: [] };
  // --stale: left by a run that ended without its teardown; a kept instance and a run still going are not stale
  const stores = o.stale ? scan.stores.filter((st) => st.state.status !== 'kept' && !runnerAlive(st)) : scan.stores;
  for (const b of scan.broken) console.error(`cannot use ${b.path}: ${b.why}`);
  if (!stores.length && !scan.broken.length) {
    console.log(
      o.stale ? 'nothing to remove: no run ended without its teardown' : 'nothing to remove: no lab instance is up',
    );
    return EXIT.ok;
  }
  const emit = reporter(o);
  let failed = scan.broken.length;
  for (const store of stores) {
    const s = store.state;
    if (await stopRunner(store)) {
      console.log(`${s.instance}: the running instance stopped and removed itself`);
      continue;
    }
    const fresh = existsSync(store.path) ? StateStore.load(store.path) : store;
    const { leaks, refused } = await teardown(providerFor(fresh.state), fresh, emit, h);
    for (const r of refused) console.error(`${s.instance}: not removed: ${r}`);
    if (leaks.length) console.error(`${s.instance}: still there: ${leaks.join(', ')}`);
    if (leaks.length || refused.length) failed++;
    else
      console.log(`${s.instance}: removed (${fresh.state.resources.length} resources of run ${s.runId}); nothing left`);
  }
  return failed ? EXIT.host : EXIT.ok;
}

/** `down --force-forget <instance>`: drops a state file that cannot be used (removes nothing it lists). */
function forget(o: Options): number {
  const h = home();
  for (const name of o.args) {
    const path = StateStore.pathFor(h, instanceName(name));
    if (!existsSync(path)) throw new HostError(`no state file for instance "${name}"`);
    rmSync(path, { force: true });
    console.log(`${name}: state file ${path} dropped; nothing it listed was removed`);
  }
  return EXIT.ok;
}

export async function check(o: Options): Promise<number> {
  if (o.all || o.class !== undefined) return (await import('./class.ts')).checkClass(o);
  const store = instanceStore(oneLab(o, 'check'));
  const formats = reportFormats(o);
  if (o.reportDir) claimReportDir(o.reportDir);
  const { signal, dispose, exitCode: stopped } = interrupts();
  try {
    const g = await checkInstance(store, o, formats, reporter(o), signal);
    return stopped() ?? g.exitCode;
  } finally {
    dispose();
  }
}

export function explainCmd(o: Options): number {
  const ref = oneLab(o, 'explain');
  const lab = loadLab(ref, undefined, o.variant);
  // a student's own values, when the exercise varies parameters per student
  const student = o.name ? studentParams(lab, o.name) : {};
  const text = explain(Object.keys(student).length ? loadLab(ref, undefined, o.variant, student) : lab);
  const values = Object.entries(student).map(([k, x]) => `${k}=${x}`);
  process.stdout.write(`${values.length ? `${o.name}'s values: ${values.join(', ')}\n\n` : ''}${text}`);
  return EXIT.ok;
}
