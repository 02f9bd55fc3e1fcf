// Verify before you destroy: the marks this run put on what it created, and the checks `down` makes before it
// removes anything a state file lists. Whatever fails a check is left alone and reported, never removed.
import { existsSync, lstatSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import type { Home } from '../../host/home.ts';
import { isAlive, type OwnedProcess } from '../../host/proc.ts';
import type { LabState } from '../../host/state.ts';

/** The alias (ifalias) a run sets on every link it creates in the root namespace. */
export const linkMark = (s: Pick<LabState, 'instance' | 'runId'>) => `virtlab:${s.instance}:${s.runId}`;

/** Every namespace of a run starts with this prefix (names.ts). */
export const nsPrefix = (s: Pick<LabState, 'instance' | 'runId'>) => `vl-${s.instance}-${s.runId}-`;

export type Verdict = { ok: true } | { ok: false; why: string };

const no = (why: string): Verdict => ({ ok: false, why });

export function netnsInode(name: string): number | undefined {
  try {
    return statSync(`/run/netns/${name}`).ino;
  } catch {
    return undefined;
  }
}

/** A namespace is ours when it carries the run's prefix and is the one we created (its recorded inode). */
export function namespaceIsOurs(r: { name: string; ino?: number }, s: LabState): Verdict {
  if (!r.name.startsWith(nsPrefix(s)) || r.name.includes('/')) return no(`its name does not start with ${nsPrefix(s)}`);
  const ino = netnsInode(r.name);
  if (ino !== undefined && r.ino !== undefined && ino !== r.ino)
    return no('it is not the namespace this run created (another inode)');
  return { ok: true };
}

export function linkIsOurs(name: string, s: LabState): Verdict {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) return no('it is not a valid link name');
  let alias = '';
  try {
    alias = readFileSync(`/sys/class/net/${name}/ifalias`, 'utf8').trim();
  } catch {
    return no('it has no alias to check');
  }
  return alias === linkMark(s) ? { ok: true } : no(`its alias is "${alias}", not this run's mark ${linkMark(s)}`);
}

/** The inode of the network namespace a process lives in, if it is still there. */
export function processNetnsInode(pid: number): number | undefined {
  try {
    const ino = Number(/^net:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/ns/net`))?.[1]);
    return Number.isNaN(ino) ? undefined : ino;
  } catch {
    return undefined;
  }
}

/** What a run's processes name on their command lines: its namespaces (ip netns exec) or its own folder. */
export function processMarks(s: LabState, h: Home): string[] {
  return [nsPrefix(s), `${join(h.runs, `${s.instance}-${s.runId}`)}/`];
}

/**
 * A process is ours when it is the one we started (PID and start time) and lives in one of our namespaces, or, in
 * the moment before `ip netns exec` has entered it, names one of them (or the run's folder) on its command line.
 */
export function processIsOurs(p: OwnedProcess, ourNamespaceInodes: Set<number>, marks: string[] = []): Verdict {
  if (!isAlive(p)) return no('it is not running (or its PID now belongs to another process)');
  const ino = processNetnsInode(p.pid);
  if (ino !== undefined && ourNamespaceInodes.has(ino)) return { ok: true };
  const cmd = commandLineOf(p.pid);
  return marks.some((m) => cmd.includes(m)) ? { ok: true } : no('it does not live in a namespace of this run');
}

function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** The run's own folder under VIRTLAB_HOME/runs; a folder is ours only strictly inside it, and not through a link. */
export function dirIsOurs(path: string, s: LabState, h: Home): Verdict {
  const runDir = join(h.runs, `${s.instance}-${s.runId}`);
  if (s.runDir !== runDir) return no(`the state's run folder ${s.runDir} is not ${runDir}`);
  if (!existsSync(path)) return { ok: true };
  try {
    if (lstatSync(path).isSymbolicLink()) return no('it is a symbolic link');
    const real = realpathSync(path);
    const base = realpathSync(runDir);
    return real.startsWith(`${base}${sep}`) ? { ok: true } : no(`it is not inside the run folder ${runDir}`);
  } catch (e) {
    return no((e as Error).message);
  }
}
