// Creating and finding lab instances: one state file per instance name (the lab name unless --name is given).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HostError } from '../errors.ts';
import type { Home } from './home.ts';
import { instanceName } from './names.ts';
import { isAlive, procStart } from './proc.ts';
import { StateStore } from './state.ts';

export function newRunId(): string {
  return randomBytes(3).toString('hex');
}

/** Whether the run that made this instance is still going (its PID with the same start time). */
export function runnerAlive(s: StateStore): boolean {
  return isAlive(s.state.runner);
}

/** This process, as a run's owner. */
export function thisRunner(): { pid: number; start: string } {
  return { pid: process.pid, start: procStart(process.pid) ?? '' };
}

/** The instance's store, if it exists; the name is checked first. */
export function existingInstance(h: Home, instance: string): StateStore | undefined {
  const p = StateStore.pathFor(h, instanceName(instance));
  return existsSync(p) ? StateStore.load(p) : undefined;
}

export interface NewInstance {
  lab: string;
  labFile: string;
  variant?: string;
  provider: string;
  providerOptions: Record<string, string>;
  /** the instance name (default: the lab's) */
  name?: string;
}

/** Refuses a second live instance of the same name; a stale one (its runner died) must be removed first. */
export function createInstance(h: Home, n: NewInstance): StateStore {
  const instance = instanceName(n.name ?? n.lab);
  const prev = existingInstance(h, instance);
  if (prev) {
    const s = prev.state;
    const alive = runnerAlive(prev);
    const how = s.status === 'kept' || alive ? 'is up' : 'was left behind by a run that did not finish';
    throw new HostError(
      `lab instance "${instance}" ${how} (run ${s.runId}, started ${s.createdAt}${alive ? `, runner pid ${s.runner.pid}` : ''})`,
      `remove it with: virtlab down ${instance}${alive || s.status === 'kept' ? '' : ' (virtlab down --stale: every run that did not finish)'}${instance === n.lab ? `   (or run another instance alongside with --name ${n.lab}-2)` : ''}`,
    );
  }
  const runId = newRunId();
  const runDir = join(h.runs, `${instance}-${runId}`);
  try {
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new HostError(
      `cannot write state file ${StateStore.pathFor(h, instance)}: cannot create the run folder ${runDir}: ${(e as Error).message}`,
      'virtlab needs a writable VIRTLAB_HOME (default /var/lib/virtlab)',
    );
  }
  return StateStore.create(h, {
    version: 2,
    instance,
    lab: n.lab,
    labFile: n.labFile,
    variant: n.variant,
    runId,
    provider: n.provider,
    providerOptions: n.providerOptions,
    runner: thisRunner(),
    createdAt: new Date().toISOString(),
    runDir,
    keyFile: join(runDir, 'keys', 'id_ed25519'),
    status: 'creating',
    machines: [],
    resources: [],
  });
}
