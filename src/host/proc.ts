// Processes we start and may later kill: identified by PID *and* start time, so a reused PID is never touched.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { HostError } from '../errors.ts';

export interface OwnedProcess {
  pid: number;
  /** field 22 of /proc/<pid>/stat: start time in clock ticks since boot */
  start: string;
  /** the process leads a process group of helpers that go with it */
  group?: boolean;
}

/** Start time of a live (not zombie) process, or undefined. */
export function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

export function isAlive(p: OwnedProcess): boolean {
  return procStart(p.pid) === p.start;
}

/** Starts a daemon detached from us (it survives a crash of the runner), stdio to a log file. */
export function spawnDetached(
  argv: string[],
  logFile: string,
  env?: Record<string, string>,
  group = false,
): OwnedProcess {
  const fd = openSync(logFile, 'a', 0o600);
  try {
    const child = spawn(argv[0]!, argv.slice(1), {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...env },
    });
    child.unref();
    // a binary that cannot be started also emits 'error' later: it is reported here, not as an uncaught event
    child.on('error', () => {});
    if (!child.pid) throw new HostError(`cannot start ${argv[0]}`);
    const start = procStart(child.pid);
    return { pid: child.pid, start: start ?? '', ...(group ? { group } : {}) };
  } finally {
    closeSync(fd);
  }
}

/** SIGKILLs an owned process (if still ours) and waits until it is gone. */
export async function killOwned(p: OwnedProcess, timeoutMs = 5000): Promise<boolean> {
  if (!isAlive(p)) return true;
  try {
    // detached processes lead their own process group: kill the group to take their helpers along
    process.kill(p.group ? -p.pid : p.pid, 'SIGKILL');
  } catch {
    return !isAlive(p);
  }
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (!isAlive(p)) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return !isAlive(p);
}

/** Whether any process has this PID (EPERM: it exists, it just is not ours to signal). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a process is a virtlab command (its command line runs virtlab's CLI), before virtlab signals it. */
export function isVirtlabProcess(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.some((a) => /(^|\/)virtlab(\.js)?$|\/src\/cli\/main\.ts$|\/dist\/cli\/main\.js$/.test(a));
  } catch {
    return false;
  }
}
