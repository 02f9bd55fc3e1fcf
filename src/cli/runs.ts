// Past runs: each run keeps its folder (report, consoles, evidence) under VIRTLAB_HOME/runs. `runs` lists them;
// `prune --older-than` removes old ones: only folders virtlab made (named <instance>-<run id>, inside runs/, not a
// link), never the folder of a lab that is up.
import { lstatSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, UsageError } from '../errors.ts';
import { home } from '../host/home.ts';
import { StateStore } from '../host/state.ts';
import { PROVIDERS } from '../providers/index.ts';
import type { Options } from './args.ts';

export interface PastRun {
  folder: string;
  instance: string;
  runId: string;
  lab?: string;
  result?: string;
  startedAt: string;
  ageS: number;
  report?: string;
  /** the folder of an instance that is up (never pruned) */
  live: boolean;
}

const RUN_FOLDER = /^([a-z0-9][a-z0-9-]*)-([0-9a-f]{6})$/;

export function pastRuns(now = Date.now()): PastRun[] {
  const dir = home().runs;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const live = new Set(StateStore.list(home()).map((s) => s.state.runDir));
  const out: PastRun[] = [];
  for (const name of names) {
    const m = RUN_FOLDER.exec(name);
    const folder = join(dir, name);
    const st = lstatSync(folder, { throwIfNoEntry: false });
    if (!m || !st?.isDirectory()) continue;
    let rep: { lab?: string; result?: string; startedAt?: string } = {};
    try {
      rep = JSON.parse(readFileSync(join(folder, 'report.json'), 'utf8'));
    } catch {
      /* a run still going, or one killed before its report */
    }
    const startedAt = rep.startedAt ?? st.mtime.toISOString();
    const files = readdirSync(folder);
    out.push({
      folder,
      instance: m[1]!,
      runId: m[2]!,
      ...(rep.lab ? { lab: rep.lab } : {}),
      ...(rep.result ? { result: rep.result } : {}),
      startedAt,
      ageS: Math.max(0, Math.round((now - Date.parse(startedAt)) / 1000)),
      ...(files.includes('report.html') ? { report: join(folder, 'report.html') } : {}),
      live: live.has(folder),
    });
  }
  return out.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

export function fmtAge(s: number): string {
  return s < 120
    ? `${s} s`
    : s < 7200
      ? `${Math.round(s / 60)} min`
      : s < 172800
        ? `${(s / 3600).toFixed(1)} h`
        : `${Math.round(s / 86400)} d`;
}

/** `30m`, `12h`, `7d`, `90s` in seconds. */
export function parseAge(v: string): number {
  const m = /^(\d+)\s*([smhd])$/.exec(v.trim());
  if (!m) throw new UsageError(`--older-than takes an age such as 30m, 12h or 7d, not "${v}"`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

export function runs(o: Options): number {
  const all = pastRuns();
  if (o.json) {
    console.log(JSON.stringify(all, null, 2));
    return EXIT.ok;
  }
  if (!all.length) console.log(`no runs in ${home().runs}`);
  for (const r of all) {
    const what = r.live ? 'up now' : (r.result ?? 'no report');
    console.log(
      `${`${r.instance}-${r.runId}`.padEnd(28)} ${(r.lab ?? '?').padEnd(20)} ${what.padEnd(11)} ${fmtAge(r.ageS).padStart(7)} ago  ${r.report ?? r.folder}`,
    );
  }
  return EXIT.ok;
}

export function prune(o: Options): number {
  if (o.snapshots) return pruneSnapshots(o);
  if (!o.olderThan)
    throw new UsageError(
      'prune needs --older-than <age> (run folders) or --snapshots (VM snapshots)',
      'virtlab prune --older-than 7d',
    );
  const limit = parseAge(o.olderThan);
  const old = pastRuns().filter((r) => r.ageS > limit && !r.live);
  for (const r of old) rmSync(r.folder, { recursive: true, force: true });
  const kept = pastRuns().length;
  if (o.json) console.log(JSON.stringify({ removed: old.map((r) => r.folder), kept }, null, 2));
  else
    console.log(
      `removed ${old.length} run folder${old.length === 1 ? '' : 's'} older than ${o.olderThan}; ${kept} kept`,
    );
  return EXIT.ok;
}

/** `virtlab prune --snapshots`: every provider's saved machine states that no instance up uses. */
function pruneSnapshots(o: Options): number {
  if (o.olderThan) throw new UsageError('prune takes --older-than or --snapshots, not both', 'run it twice');
  const got = PROVIDERS.flatMap((p) => (p.pruneSnapshots ? [p.pruneSnapshots()] : []));
  const removed = got.flatMap((g) => g.removed);
  const kept = got.flatMap((g) => g.kept);
  const bytes = got.reduce((n, g) => n + g.bytes, 0);
  if (o.json) console.log(JSON.stringify({ removed, kept, bytes }, null, 2));
  else {
    const mib = Math.round(bytes / 2 ** 20);
    console.log(`removed ${removed.length} VM snapshot${removed.length === 1 ? '' : 's'} (${mib} MiB)`);
    for (const k of kept) console.log(`kept ${k}: a VM of an instance that is up started from it`);
  }
  return EXIT.ok;
}
