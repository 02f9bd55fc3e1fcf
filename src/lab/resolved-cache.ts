// Resolved labs kept between commands. Resolving a lab (YAML with positions, the schemas, every kind's checks) is
// ~50 ms of each command's start on the 2-core host, and the same files always resolve to the same lab: a lab is
// kept per lab file, variant, parameters, project folder, working folder and virtlab build, and used only while every
// path the resolution looked at is as it was then (a file's content, a path's type and real path, or its absence).
// A lab that resolved with problems is never kept: its diagnostics come from a fresh resolution every time. A kept lab
// is read only from a folder and file this user alone can write (a lab names commands a run executes as root).
import { createHash } from 'node:crypto';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Diagnostic } from '../errors.ts';
import type { Lab } from './model.ts';
import { MAX_FILE_MIB, recordPaths } from './source.ts';

type Resolved = { lab?: Lab; diagnostics: Diagnostic[] };

interface Entry {
  /** each path the resolution looked at, with what it was */
  inputs: [string, string][];
  lab: Lab;
  diagnostics: Diagnostic[];
}

/** The most labs kept (one file each, a few KiB); the least recently written go first. */
export const KEEP = 200;

/** What a path is now: a regular file by its content, anything else by its type and real path, or absent. */
export function pathSignature(path: string): string {
  try {
    const st = statSync(path);
    if (st.isFile()) {
      if (st.size > MAX_FILE_MIB * 1048576) return `big:${st.size}:${st.mtimeMs}`;
      return `file:${realpathSync(path)}:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
    }
    return `${st.isDirectory() ? 'dir' : 'other'}:${realpathSync(path)}`;
  } catch {
    return 'absent';
  }
}

/**
 * The lab `resolve` gives, from the cache folder when every input is unchanged, else resolved (and kept when it has
 * no problems). Without a folder (virtlab run from its TypeScript sources) nothing is kept. Either way the lab is
 * plain data as JSON gives it back, so a kept lab and a fresh one behave the same.
 */
export function resolvedLab(dir: string | undefined, key: object, resolve: () => Resolved): Resolved {
  const file = dir && join(dir, `${createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 32)}.json`);
  if (file) {
    const kept = read(file);
    if (kept?.inputs.every(([p, sig]) => pathSignature(p) === sig))
      return { lab: kept.lab, diagnostics: kept.diagnostics };
  }
  const { value, paths } = recordPaths(resolve);
  if (!value.lab) return value;
  const lab = JSON.parse(JSON.stringify(value.lab)) as Lab;
  if (file) write(dir, file, { inputs: paths.map((p) => [p, pathSignature(p)]), lab, diagnostics: value.diagnostics });
  return { lab, diagnostics: value.diagnostics };
}

/** A folder or file only this user can write: a kept lab names the commands a run executes, as root. */
function privateToMe(path: string): boolean {
  const st = statSync(path, { throwIfNoEntry: false });
  return !!st && st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
}

function read(file: string): Entry | undefined {
  if (!privateToMe(dirname(file)) || !privateToMe(file)) return undefined;
  try {
    const e = JSON.parse(readFileSync(file, 'utf8')) as Entry;
    return Array.isArray(e?.inputs) && e.lab && Array.isArray(e.diagnostics) ? e : undefined;
  } catch {
    return undefined;
  }
}

/** Written whole (a reader never sees half a file); a cache that cannot be written is no cache, never an error. */
function write(dir: string, file: string, e: Entry): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!privateToMe(dir)) return;
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(e), { mode: 0o600 });
    renameSync(tmp, file);
    prune(dir);
  } catch {
    /* a read-only or full disk: resolved again next time */
  }
}

function prune(dir: string): void {
  const names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  if (names.length <= KEEP) return;
  const byAge = names
    .map((n) => ({ n, t: statSync(join(dir, n), { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
    .sort((a, b) => a.t - b.t);
  for (const { n } of byAge.slice(0, names.length - KEEP)) rmSync(join(dir, n), { force: true });
}
