// Creating and finding lab instances: one state file per instance name (the lab name unless --name is given).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HostError, UsageError } from '../errors.ts';
import type { Lab } from '../lab/model.ts';
import type { Home } from './home.ts';
import { pidExists } from './proc.ts';
import { StateStore } from './state.ts';

export function newRunId(): string {
  return randomBytes(3).toString('hex');
}

export function runnerAlive(s: StateStore): boolean {
  return pidExists(s.state.runnerPid);
}

/** Refuses a second live instance of the same name; a stale one (its runner died) must be removed first. */
export function existingInstance(h: Home, instance: string): StateStore | undefined {
  const p = StateStore.pathFor(h, instance);
  return existsSync(p) ? StateStore.load(p) : undefined;
}

export function createInstance(
  h: Home,
  lab: Lab,
  provider: string,
  instanceName?: string,
  runDirOverride?: string,
): StateStore {
  const instance = instanceName ?? lab.name;
  if (!/^[a-z0-9][a-z0-9-]*$/.test(instance) || instance.length > 24) {
    throw new UsageError(
      `"${instance}" cannot be an instance name`,
      'use lowercase letters, digits and "-", at most 24 characters',
    );
  }
  const prev = existingInstance(h, instance);
  if (prev) {
    const s = prev.state;
    const how = s.status === 'kept' || runnerAlive(prev) ? 'is up' : 'was left behind by a run that did not finish';
    throw new HostError(
      `lab instance "${instance}" ${how} (run ${s.runId}, started ${s.createdAt}${runnerAlive(prev) ? `, runner pid ${s.runnerPid}` : ''})`,
      `remove it with: virtlab down ${instance}${instance === lab.name ? `   (or run another instance alongside with --name ${lab.name}-2)` : ''}`,
    );
  }
  const runId = newRunId();
  const runDir = runDirOverride ?? join(h.runs, `${instance}-${runId}`);
  try {
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new HostError(
      `cannot write state file ${StateStore.pathFor(h, instance)}: cannot create the run folder ${runDir}: ${(e as Error).message}`,
      'virtlab needs a writable VIRTLAB_HOME (default /var/lib/virtlab)',
    );
  }
  return StateStore.create(h, {
    version: 1,
    instance,
    lab: lab.name,
    labFile: lab.file,
    variant: lab.variant,
    runId,
    provider,
    runnerPid: process.pid,
    createdAt: new Date().toISOString(),
    runDir,
    keyFile: join(runDir, 'keys', 'id_ed25519'),
    status: 'creating',
    machines: [],
    networks: [],
    resources: [],
  });
}
