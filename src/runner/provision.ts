// Running playbooks on machines through their Executors: ok / changed / failed per task, a summary per machine,
// and a second run of the same playbook changes nothing.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { HostError } from '../errors.ts';
import { home } from '../host/home.ts';
import { allDone } from '../host/parallel.ts';
import type { Session } from '../kinds/session.ts';
import type { Machine } from '../lab/model.ts';
import type { Emit, StepStatus } from '../report/events.ts';
import type { Executor } from '../transport/executor.ts';
import { fileSha256 } from '../transport/ssh.ts';
import { expandTask, hostsMatch, loadPlaybook, type Task, toList } from './playbook.ts';

export interface ModuleContext {
  x: Executor;
  /** netns machines share the host's filesystem: packages are checked, never installed */
  sharedFilesystem: boolean;
  playbookDir: string;
  downloads: string;
}

export interface TaskOutcome {
  status: Exclude<StepStatus, 'skipped'>;
  detail?: string;
}

export async function runProvisioning(s: Session, emit: Emit): Promise<void> {
  const failures: string[] = [];
  await allDone(
    s.lab.machines
      .filter((m) => m.provision)
      .map(async (m) => {
        const counts = await runPlaybook(m, s.machines.get(m.name)!.exec, {
          sharedFilesystem: s.machines.get(m.name)!.sharedFilesystem ?? false,
          emit,
          stage: 'provision',
        });
        if (counts.failed) failures.push(`${m.name}: ${counts.failed} task(s) failed`);
      }),
  );
  if (failures.length)
    throw new HostError(`provisioning failed (${failures.join('; ')})`, 'see the failed tasks above');
}

export async function runPlaybook(
  m: Machine,
  x: Executor,
  o: { sharedFilesystem: boolean; emit: Emit; stage: 'provision' },
): Promise<{ ok: number; changed: number; failed: number }> {
  const plays = loadPlaybook(m.provision!);
  const ctx: ModuleContext = {
    x,
    sharedFilesystem: o.sharedFilesystem,
    playbookDir: dirname(m.provision!),
    downloads: join(home().cache, 'downloads'),
  };
  const counts = { ok: 0, changed: 0, failed: 0 };
  const vars = { inventory_hostname: m.name, ansible_hostname: m.name, group_names: [m.role, `${m.role}s`] };
  for (const play of plays) {
    if (!hostsMatch(play.hosts, m.name, m.role)) continue;
    for (const t of play.tasks) {
      for (const task of expandTask(t, { ...play.vars, ...vars })) {
        const t0 = performance.now();
        const id = `${m.name}: ${task.name}`;
        o.emit({ type: 'step-start', stage: o.stage, id, title: `${m.name}: ${task.name}` });
        let out: TaskOutcome;
        try {
          out = await runModule(task, ctx);
        } catch (e) {
          out = { status: 'failed', detail: (e as Error).message.split('\n')[0] };
        }
        counts[out.status]++;
        o.emit({
          type: 'step-end',
          stage: o.stage,
          id,
          status: out.status,
          durationMs: Math.round(performance.now() - t0),
          detail: out.detail,
        });
        if (out.status === 'failed') return counts;
      }
    }
  }
  o.emit({
    type: 'log',
    level: 'info',
    message: `${m.name}: ok=${counts.ok} changed=${counts.changed} failed=${counts.failed} (${basename(m.provision!)})`,
  });
  return counts;
}

export async function runModule(t: Task, c: ModuleContext): Promise<TaskOutcome> {
  const a = t.args as Record<string, unknown>;
  switch (t.module) {
    case 'apt':
      return apt(toList(a.name ?? a.pkg), c);
    case 'file':
      return file(a, c);
    case 'copy':
      return copy(a, c);
    case 'get_url':
      return getUrl(a, c);
    case 'sysctl':
      return sysctl(String(a.name), String(a.value), c);
    case 'command': {
      const r = await c.x.run(splitWords(String(a.cmd)), { check: false, timeoutMs: 600000 });
      return r.exitCode === 0
        ? { status: 'changed' }
        : { status: 'failed', detail: `exit ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').pop()}` };
    }
    case 'shell': {
      const r = await c.x.run(['sh', '-c', String(a.cmd)], { check: false, timeoutMs: 600000 });
      return r.exitCode === 0
        ? { status: 'changed' }
        : { status: 'failed', detail: `exit ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').pop()}` };
    }
  }
}

async function apt(pkgs: string[], c: ModuleContext): Promise<TaskOutcome> {
  const missing: string[] = [];
  for (const p of pkgs) {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
    const r = await c.x.run(['dpkg-query', '-W', '-f=${Status}', p], { check: false });
    if (!/install ok installed/.test(r.stdout)) missing.push(p);
  }
  if (!missing.length) return { status: 'ok', detail: `${pkgs.length} package(s) present` };
  if (c.sharedFilesystem) {
    return {
      status: 'failed',
      detail: `missing on the host (netns machines share its packages): apt-get install -y ${missing.join(' ')}`,
    };
  }
  const r = await c.x.run(['apt-get', 'install', '-y', '--no-install-recommends', ...missing], {
    check: false,
    timeoutMs: 900000,
    env: { DEBIAN_FRONTEND: 'noninteractive' },
  });
  return r.exitCode === 0
    ? { status: 'changed', detail: `installed ${missing.join(' ')}` }
    : { status: 'failed', detail: r.stderr.trim().split('\n').pop() };
}

const octal = (m: unknown) =>
  m === undefined ? undefined : (typeof m === 'number' ? m.toString(8) : String(m)).replace(/^0+(?=\d{3})/, '');

async function file(a: Record<string, unknown>, c: ModuleContext): Promise<TaskOutcome> {
  const path = String(a.path);
  const state = a.state ?? 'file';
  const st = await c.x.run(['stat', '-c', '%F %a %U %G', path], { check: false });
  const exists = st.exitCode === 0;
  let changed = false;
  if (state === 'absent') {
    if (!exists) return { status: 'ok' };
    await c.x.run(['rm', '-rf', '--', path]);
    return { status: 'changed' };
  }
  if (state === 'directory' && (!exists || !st.stdout.startsWith('directory'))) {
    await c.x.run(['mkdir', '-p', '--', path]);
    changed = true;
  } else if (state === 'touch') {
    await c.x.run(['touch', '--', path]);
    changed = true;
  } else if (state === 'file' && !exists) {
    return { status: 'failed', detail: `${path} does not exist (use state=touch to create it)` };
  }
  changed = (await attrs(path, a, c)) || changed;
  return { status: changed ? 'changed' : 'ok' };
}

/** Applies mode/owner/group when they differ; true when something changed. */
async function attrs(path: string, a: Record<string, unknown>, c: ModuleContext): Promise<boolean> {
  const [, mode, owner, group] = (await c.x.run(['stat', '-c', '%F %a %U %G', path])).stdout
    .trim()
    .match(/^(.*) (\d+) (\S+) (\S+)$/)!
    .slice(1)
    .map(String) as [string, string, string, string];
  let changed = false;
  const want = octal(a.mode);
  if (want && want !== mode) {
    await c.x.run(['chmod', want, '--', path]);
    changed = true;
  }
  if ((a.owner && a.owner !== owner) || (a.group && a.group !== group)) {
    await c.x.run(['chown', `${a.owner ?? owner}:${a.group ?? group}`, '--', path]);
    changed = true;
  }
  return changed;
}

async function copy(a: Record<string, unknown>, c: ModuleContext): Promise<TaskOutcome> {
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
  const up = await c.x.upload(src, dest);
  const changed = await attrs(dest, a, c);
  return { status: !up.skipped || changed ? 'changed' : 'ok' };
}

async function getUrl(a: Record<string, unknown>, c: ModuleContext): Promise<TaskOutcome> {
  const url = String(a.url);
  const cached = join(
    c.downloads,
    `${createHash('sha256').update(url).digest('hex').slice(0, 16)}-${basename(new URL(url).pathname) || 'download'}`,
  );
  if (!existsSync(cached)) {
    mkdirSync(c.downloads, { recursive: true });
    let data: Buffer;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(30000) });
      if (!res.ok) throw new HostError(`HTTP ${res.status}`);
      data = Buffer.from(await res.arrayBuffer());
    } catch (e) {
      return {
        status: 'failed',
        detail: `cannot download ${url} (${(e as Error).message}); offline? put the file at ${cached}`,
      };
    }
    if (a.checksum) {
      const [algo, want] = String(a.checksum).split(':') as [string, string];
      const got = createHash(algo).update(data).digest('hex');
      if (got !== want?.toLowerCase())
        return { status: 'failed', detail: `checksum mismatch for ${url}: ${algo} ${got}, expected ${want}` };
    }
    writeFileSync(`${cached}.part`, data);
    renameSync(`${cached}.part`, cached);
  } else if (a.checksum) {
    const [algo, want] = String(a.checksum).split(':') as [string, string];
    const got =
      algo === 'sha256' ? await fileSha256(cached) : createHash(algo).update(readFileSync(cached)).digest('hex');
    if (got !== want?.toLowerCase())
      return { status: 'failed', detail: `cached ${cached} does not match checksum ${a.checksum}` };
  }
  let dest = String(a.dest);
  if (dest.endsWith('/')) dest += basename(new URL(url).pathname);
  const up = await c.x.upload(cached, dest, { mode: a.mode ? parseInt(octal(a.mode)!, 8) : undefined });
  return { status: up.skipped ? 'ok' : 'changed' };
}

async function sysctl(name: string, value: string, c: ModuleContext): Promise<TaskOutcome> {
  const cur = await c.x.run(['sysctl', '-n', name], { check: false });
  if (cur.exitCode !== 0) return { status: 'failed', detail: `unknown sysctl ${name}` };
  if (cur.stdout.trim() === value) return { status: 'ok' };
  await c.x.run(['sysctl', '-q', '-w', `${name}=${value}`]);
  return { status: 'changed', detail: `${cur.stdout.trim()} -> ${value}` };
}

/** Splits a `command:` line into words (quotes respected, no shell). */
export function splitWords(s: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (const m of s.matchAll(re)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]!));
  return out;
}
