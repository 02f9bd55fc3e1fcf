// The modules of virtlab's playbook subset, run through a machine's Executor: each says ok, changed or failed,
// and a second run of the same task changes nothing. On namespace machines, which share the control host's files,
// a task that would change the host (a package install, a file outside the machine's own folders) is refused.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { download as fetchUrl } from '../host/download.ts';
import { ansibleBool, PACKAGE_SUCCESSORS } from '../lab/playbook-vocabulary.ts';
import type { StepStatus } from '../report/events.ts';
import type { Executor, RunOptions } from '../transport/executor.ts';
import { fileSha256 } from '../transport/ssh.ts';
import { type Task, toList } from './playbook.ts';

export interface ModuleContext {
  x: Executor;
  /** netns machines share the host's filesystem: packages are checked, never installed */
  sharedFilesystem: boolean;
  /** on a shared filesystem, the folders that are the machine's own (files may change there) */
  privatePaths?: string[];
  playbookDir: string;
  downloads: string;
  /**
   * On a shared filesystem: the host's packages as this run already asked dpkg about them (nothing installs any
   * there, so one answer holds for the run: the refusal check's answers serve the tasks themselves).
   */
  hostPackages?: Map<string, Promise<string[]>>;
}

export interface TaskOutcome {
  status: Exclude<StepStatus, 'skipped'>;
  detail?: string;
}

type Args = Record<string, unknown>;
const flag = (v: unknown, dflt = false) => ansibleBool(v) ?? dflt;
const lastLine = (r: { stdout: string; stderr: string }) => (r.stderr || r.stdout).trim().split('\n').pop() ?? '';

/** The argv as the task's user (root unless remote_user or become_user say otherwise). */
const as = (t: Task, argv: string[]) => (t.user === 'root' ? argv : ['runuser', '-u', t.user, '--', ...argv]);

export async function runModule(t: Task, c: ModuleContext): Promise<TaskOutcome> {
  const a = t.args;
  switch (t.module) {
    case 'apt':
      return apt(a, c);
    case 'file':
      return refuseHostPath(String(a.path ?? a.dest ?? a.name), c) ?? file(t, a, c);
    case 'copy':
      return refuseHostPath(String(a.dest), c) ?? copy(t, a, c);
    case 'get_url':
      return refuseHostPath(String(a.dest), c) ?? getUrl(t, a, c);
    case 'sysctl':
      return sysctl(a, c);
    case 'command':
    case 'shell':
      return command(t, a, c);
    case 'debug':
      return { status: 'ok', detail: a.msg !== undefined ? String(a.msg) : a.var !== undefined ? String(a.var) : '' };
  }
}

/** A path outside a namespace machine's own folders is the control host's: refused before anything changes. */
function refuseHostPath(path: string, c: ModuleContext): TaskOutcome | undefined {
  if (!c.sharedFilesystem || !c.privatePaths) return undefined;
  const mine = c.privatePaths.some((p) => path === p || path.startsWith(`${p.replace(/\/$/, '')}/`));
  if (mine) return undefined;
  return {
    status: 'failed',
    detail: `refused: ${path} is on the control host (namespace machines share its files; only ${c.privatePaths.join(', ')} are the machine's own); use VM machines (provider: vm) for this task`,
  };
}

/** Package names after the successors of names Debian 12 no longer has. */
export function packagesFor(names: string[]): { pkgs: string[]; renamed: string[] } {
  const renamed = names.filter((n) => PACKAGE_SUCCESSORS[n]).map((n) => `${n} -> ${PACKAGE_SUCCESSORS[n]!.join(' ')}`);
  return { pkgs: [...new Set(names.flatMap((n) => PACKAGE_SUCCESSORS[n] ?? [n]))], renamed };
}

/** Which of the packages are installed: one dpkg-query for all of them (a package it does not know is not listed). */
async function installed(pkgs: string[], c: ModuleContext): Promise<string[]> {
  if (!pkgs.length) return [];
  if (c.sharedFilesystem && c.hostPackages) {
    const key = pkgs.join(' ');
    let known = c.hostPackages.get(key);
    if (!known) {
      known = dpkgInstalled(pkgs, c);
      c.hostPackages.set(key, known);
      // a failed question is asked again, not remembered
      known.catch(() => c.hostPackages?.delete(key));
    }
    return known;
  }
  return dpkgInstalled(pkgs, c);
}

async function dpkgInstalled(pkgs: string[], c: ModuleContext): Promise<string[]> {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
  const r = await c.x.run(['dpkg-query', '-W', '-f=${Package}\t${Status}\n', '--', ...pkgs], { check: false });
  return installedOf(r.stdout, pkgs);
}

/** The packages `dpkg-query -W -f='${Package}\t${Status}\n'` lists as installed (any architecture). */
export function installedOf(stdout: string, pkgs: string[]): string[] {
  const ok = new Set(
    stdout
      .split('\n')
      .map((l) => l.split('\t'))
      .filter(([, status]) => /install ok installed/.test(status ?? ''))
      .map(([name]) => name!.replace(/:[a-z0-9]+$/, '')),
  );
  return pkgs.filter((p) => ok.has(p.replace(/:[a-z0-9]+$/, '')));
}

const APT: RunOptions = { check: false, timeoutMs: 900000, env: { DEBIAN_FRONTEND: 'noninteractive' } };

async function apt(a: Args, c: ModuleContext): Promise<TaskOutcome> {
  const { pkgs, renamed } = packagesFor(toList(a.name ?? a.pkg ?? a.package));
  const note = renamed.length ? ` (Debian 12 successors: ${renamed.join(', ')})` : '';
  const absent = a.state === 'absent' || a.state === 'removed';
  const have = await installed(pkgs, c);
  const todo = absent ? have : pkgs.filter((p) => !have.includes(p));
  const updateCache = flag(a.update_cache ?? a['update-cache']);
  if (!todo.length && !(updateCache && !c.sharedFilesystem))
    return { status: 'ok', detail: `${pkgs.length} package(s) ${absent ? 'absent' : 'present'}${note}` };
  if (c.sharedFilesystem) {
    if (!todo.length) return { status: 'ok', detail: `${pkgs.length} package(s) present${note}` };
    const fix = absent ? 'namespace machines share its packages' : `apt-get install -y ${todo.join(' ')}`;
    return {
      status: 'failed',
      detail: `${absent ? 'installed on the host, which cannot be changed from here' : 'missing on the host (netns machines share its packages)'}: ${fix}${note}`,
    };
  }
  if (updateCache) {
    const u = await c.x.run(['apt-get', 'update'], APT);
    if (u.exitCode !== 0) return { status: 'failed', detail: `apt-get update: ${lastLine(u)}` };
    if (!todo.length) return { status: 'changed', detail: `cache updated${note}` };
  }
  const recommends = flag(a.install_recommends, false) ? [] : ['--no-install-recommends'];
  const argv = absent ? ['apt-get', 'remove', '-y', ...todo] : ['apt-get', 'install', '-y', ...recommends, ...todo];
  const r = await c.x.run(argv, APT);
  return r.exitCode === 0
    ? { status: 'changed', detail: `${absent ? 'removed' : 'installed'} ${todo.join(' ')}${note}` }
    : { status: 'failed', detail: lastLine(r) };
}

const octal = (m: unknown) =>
  m === undefined ? undefined : (typeof m === 'number' ? m.toString(8) : String(m)).replace(/^0+(?=\d{3})/, '');

async function file(t: Task, a: Args, c: ModuleContext): Promise<TaskOutcome> {
  const path = String(a.path ?? a.dest ?? a.name);
  const state = String(a.state ?? (a.src !== undefined ? 'link' : 'file'));
  // what it is, and its mode and owners (for attrs): one round trip
  const st = await c.x.run(['stat', '-c', '%F|%a|%U|%G', '--', path], { check: false });
  const exists = st.exitCode === 0;
  const [kind = '', ...known] = st.stdout.trim().split('|');
  if (state === 'absent') {
    if (!exists) return { status: 'ok' };
    await c.x.run(['rm', '-rf', '--', path]);
    return { status: 'changed' };
  }
  let changed = false;
  if (state === 'link') {
    const cur = await c.x.run(['readlink', '--', path], { check: false });
    if (cur.stdout.trim() !== String(a.src)) {
      if (exists && kind !== 'symbolic link' && !flag(a.force))
        return { status: 'failed', detail: `${path} exists and is not a link (force: yes replaces it)` };
      await c.x.run(as(t, ['ln', '-sfnT', String(a.src), path]));
      return { status: 'changed' };
    }
    return { status: 'ok' };
  }
  let now: string[] | undefined = exists ? known : undefined;
  if (state === 'directory' && (!exists || kind !== 'directory')) {
    // made with its mode (mkdir -m is not masked by the umask): nothing to ask afterwards unless owners are wanted
    const want = octal(a.mode);
    await c.x.run(as(t, ['mkdir', '-p', ...(want ? ['-m', want] : []), '--', path]));
    now = want && !exists && a.owner === undefined && a.group === undefined && t.user === 'root' ? [want] : undefined;
    changed = true;
  } else if (state === 'touch') {
    await c.x.run(as(t, ['touch', '--', path]));
    now = undefined;
    changed = true;
  } else if (state === 'file' && !exists) {
    return { status: 'failed', detail: `${path} does not exist (use state=touch to create it)` };
  }
  changed = (await attrs(t, path, a, c, now)) || changed;
  return { status: changed ? 'changed' : 'ok' };
}

/**
 * Applies mode/owner/group (to everything below with recurse) when they differ; true when something changed.
 * `now`: its mode, owner and group as a stat the caller made already said (asked again when not given).
 */
async function attrs(t: Task, path: string, a: Args, c: ModuleContext, now?: string[]): Promise<boolean> {
  const recurse = flag(a.recurse);
  const want = octal(a.mode);
  const wantOwner = a.owner === undefined ? (t.user !== 'root' ? t.user : undefined) : String(a.owner);
  const wantGroup = a.group === undefined ? undefined : String(a.group);
  if (!want && !wantOwner && !wantGroup) return false;
  const [mode, owner, group] = now ?? (await c.x.run(['stat', '-c', '%a %U %G', '--', path])).stdout.trim().split(' ');
  // below the top, only find can tell whether anything differs
  const below = async (test: string[]) =>
    recurse && (await c.x.run(['find', path, ...test, '-print', '-quit'])).stdout.trim() !== '';
  let changed = false;
  if (want && (want !== mode || (await below(['!', '-perm', want])))) {
    await c.x.run(['chmod', ...(recurse ? ['-R'] : []), want, '--', path]);
    changed = true;
  }
  const ownerDiffers = (wantOwner && wantOwner !== owner) || (wantGroup && wantGroup !== group);
  const test = [...(wantOwner ? ['!', '-user', wantOwner] : []), ...(wantGroup ? ['!', '-group', wantGroup] : [])];
  if (
    ownerDiffers ||
    (test.length && (await below(test.length > 2 ? ['(', ...test.slice(0, 3), '-o', ...test.slice(3), ')'] : test)))
  ) {
    await c.x.run(['chown', ...(recurse ? ['-R'] : []), `${wantOwner ?? owner}:${wantGroup ?? group}`, '--', path]);
    changed = true;
  }
  return changed;
}

async function copy(t: Task, a: Args, c: ModuleContext): Promise<TaskOutcome> {
  let src: string;
  if (a.content !== undefined) {
    src = join(c.downloads, `content-${createHash('sha256').update(String(a.content)).digest('hex').slice(0, 16)}`);
    mkdirSync(c.downloads, { recursive: true });
    writeFileSync(src, String(a.content));
  } else {
    src = join(c.playbookDir, 'files', String(a.src));
    if (!existsSync(src)) src = join(c.playbookDir, String(a.src));
    if (!existsSync(src))
      return {
        status: 'failed',
        detail: `source file ${a.src} not found next to the playbook (or in its files/ folder)`,
      };
  }
  let dest = String(a.dest);
  if (dest.endsWith('/')) dest += basename(String(a.src));
  if (!flag(a.force, true) && (await c.x.run(['test', '-e', dest], { check: false })).exitCode === 0)
    return { status: 'ok', detail: 'exists (force: no)' };
  const up = await c.x.upload(src, dest);
  const changed = await attrs(t, dest, a, c);
  return { status: !up.skipped || changed ? 'changed' : 'ok' };
}

async function download(url: string, cached: string, a: Args): Promise<string | undefined> {
  mkdirSync(join(cached, '..'), { recursive: true });
  let data: Buffer;
  try {
    data = await fetchUrl(url, Number(a.timeout ?? 10) * 1000 + 20000);
  } catch (e) {
    return `${(e as Error).message}; offline? put the file at ${cached}`;
  }
  if (a.checksum) {
    const [algo, want] = String(a.checksum).split(':') as [string, string];
    const got = createHash(algo).update(data).digest('hex');
    if (got !== want?.toLowerCase()) return `checksum mismatch for ${url}: ${algo} ${got}, expected ${want}`;
  }
  writeFileSync(`${cached}.part`, data);
  renameSync(`${cached}.part`, cached);
  return undefined;
}

/** Where get_url keeps a URL's file on the control host (put a file there to run offline). */
export function downloadCachePath(downloads: string, url: string): string {
  const name = basename(new URL(url).pathname) || 'download';
  return join(downloads, `${createHash('sha256').update(url).digest('hex').slice(0, 16)}-${name}`);
}

async function getUrl(t: Task, a: Args, c: ModuleContext): Promise<TaskOutcome> {
  const url = String(a.url);
  let dest = String(a.dest);
  if (dest.endsWith('/')) dest += basename(new URL(url).pathname);
  // like Ansible: an existing file is left alone unless force: yes (or a checksum says it differs)
  const there = (await c.x.run(['test', '-f', dest], { check: false })).exitCode === 0;
  if (there && !flag(a.force) && !a.checksum) return { status: 'ok', detail: 'exists (force: no)' };
  const cached = downloadCachePath(c.downloads, url);
  if (!existsSync(cached)) {
    const why = await download(url, cached, a);
    if (why) return { status: 'failed', detail: why };
  } else if (a.checksum) {
    const [algo, want] = String(a.checksum).split(':') as [string, string];
    const got =
      algo === 'sha256' ? await fileSha256(cached) : createHash(algo).update(readFileSync(cached)).digest('hex');
    if (got !== want?.toLowerCase())
      return { status: 'failed', detail: `cached ${cached} does not match checksum ${a.checksum}` };
  }
  const up = await c.x.upload(cached, dest, { mode: a.mode ? parseInt(octal(a.mode)!, 8) : undefined });
  const changed = await attrs(t, dest, { owner: a.owner, group: a.group }, c);
  return { status: up.skipped && !changed ? 'ok' : 'changed' };
}

async function sysctl(a: Args, c: ModuleContext): Promise<TaskOutcome> {
  const name = String(a.name);
  const value = String(a.value);
  const ignore = flag(a.ignoreerrors);
  // on a namespace machine only net.* is its own: anything else is only read (and its change refused below)
  const mayWrite = !c.sharedFilesystem || name.startsWith('net.');
  // read, and write when it differs: one round trip ("=" marks a value that could be read)
  const r = await c.x.run(
    mayWrite
      ? [
          'sh',
          '-c',
          'v=$(sysctl -n "$1") || exit 3; echo "=$v"; [ "$v" = "$2" ] || sysctl -q -w "$1=$2"',
          'sh',
          name,
          value,
        ]
      : ['sh', '-c', 'v=$(sysctl -n "$1") || exit 3; echo "=$v"', 'sh', name],
    { check: false },
  );
  if (!r.stdout.startsWith('=')) return { status: ignore ? 'ok' : 'failed', detail: `unknown sysctl ${name}` };
  const cur = r.stdout.slice(1).trim();
  if (cur === value) return { status: 'ok' };
  if (!mayWrite)
    return { status: 'failed', detail: `refused: ${name} is the control host's (only net.* is per namespace)` };
  if (r.exitCode !== 0) return { status: 'failed', detail: `sysctl -w ${name}=${value}: ${lastLine(r)}` };
  return { status: 'changed', detail: `${cur} -> ${value}` };
}

async function command(t: Task, a: Args, c: ModuleContext): Promise<TaskOutcome> {
  if (a.creates !== undefined && (await c.x.run(['test', '-e', String(a.creates)], { check: false })).exitCode === 0)
    return { status: 'ok', detail: `skipped, since ${a.creates} exists` };
  if (a.removes !== undefined && (await c.x.run(['test', '-e', String(a.removes)], { check: false })).exitCode !== 0)
    return { status: 'ok', detail: `skipped, since ${a.removes} does not exist` };
  const line =
    t.module === 'shell'
      ? [String(a.executable ?? '/bin/sh'), '-c', String(a.cmd)]
      : Array.isArray(a.argv)
        ? a.argv.map(String)
        : splitWords(String(a.cmd));
  const argv = a.chdir !== undefined ? ['env', '-C', String(a.chdir), ...line] : line;
  const input = a.stdin === undefined ? undefined : `${a.stdin}${flag(a.stdin_add_newline, true) ? '\n' : ''}`;
  const r = await c.x.run(as(t, argv), { check: false, timeoutMs: 600000, ...(input ? { input } : {}) });
  return r.exitCode === 0 ? { status: 'changed' } : { status: 'failed', detail: `exit ${r.exitCode}: ${lastLine(r)}` };
}

/** Splits a `command:` line into words (quotes respected, no shell). */
export function splitWords(s: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (const m of s.matchAll(re)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]!));
  return out;
}
