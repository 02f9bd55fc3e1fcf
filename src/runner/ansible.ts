// Real Ansible for machines whose playbook asks for it: an inventory of the lab's machines (management address, the
// run's key, pinned host keys, groups by role), ansible-playbook run against it, and its task results streamed into
// virtlab's own events (ok/changed/failed per task and machine, in the console, the report and JUnit).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { HostError, InterruptedError } from '../errors.ts';
import type { SshAccess } from '../providers/port.ts';
import type { Emit, StepStatus } from '../report/events.ts';

export interface AnsibleHost {
  name: string;
  role: 'hypervisor' | 'peer';
  access: SshAccess;
}

export interface Counts {
  ok: number;
  changed: number;
  failed: number;
  skipped: number;
  unreachable: number;
}

const quoteIni = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);

/** The host key line of each machine as OpenSSH's known_hosts writes it. */
export function knownHostsText(hosts: AnsibleHost[]): string {
  return hosts
    .filter((h) => h.access.hostKey)
    .map((h) => `${h.access.port !== 22 ? `[${h.access.host}]:${h.access.port}` : h.access.host} ${h.access.hostKey}\n`)
    .join('');
}

/** An INI inventory: one group per role (hypervisor, peer) and its plural, as the subset's hosts: patterns read. */
export function inventoryText(hosts: AnsibleHost[], knownHosts: string, title: string): string {
  const line = (h: AnsibleHost) => {
    const a = h.access;
    const vars = [
      `ansible_host=${a.host}`,
      `ansible_port=${a.port}`,
      `ansible_user=${quoteIni(a.user)}`,
      `ansible_ssh_private_key_file=${quoteIni(a.keyFile)}`,
      ...(a.sudo ? ['ansible_become=true'] : []),
    ];
    return `${h.name} ${vars.join(' ')}`;
  };
  const out = [`# ${title}`];
  for (const role of ['hypervisor', 'peer'] as const) {
    const members = hosts.filter((h) => h.role === role);
    if (!members.length) continue;
    out.push('', `[${role}]`, ...members.map(line), '', `[${role}s:children]`, role);
  }
  const ssh = `-o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes`;
  out.push('', '[all:vars]', `ansible_ssh_common_args='${ssh}'`, 'ansible_python_interpreter=/usr/bin/python3', '');
  return out.join('\n');
}

export type AnsibleLine =
  | { type: 'play'; name: string }
  | { type: 'task'; name: string }
  | { type: 'result'; host: string; status: StepStatus | 'unreachable'; item?: string; detail?: string }
  | { type: 'recap'; host: string; counts: Counts };

/** One line of ansible-playbook's default output, as far as virtlab needs it. */
export function parseAnsibleLine(line: string): AnsibleLine | undefined {
  let m = /^PLAY \[(.*)\] \**$/.exec(line);
  if (m && m[1] !== undefined && !line.startsWith('PLAY RECAP')) return { type: 'play', name: m[1] };
  m = /^(?:TASK|RUNNING HANDLER) \[(.*)\] \**$/.exec(line);
  if (m) return { type: 'task', name: m[1]! };
  m =
    /^(ok|changed|skipping|fatal|failed): \[([^\]]+)\](?::? (UNREACHABLE!|FAILED!))?(?: => \(item=(.*?)\))?(?: \(item=(.*?)\))?(?: => (.*))?$/.exec(
      line,
    );
  if (m) {
    const word = m[1]!;
    const status =
      m[3] === 'UNREACHABLE!'
        ? 'unreachable'
        : word === 'skipping'
          ? 'skipped'
          : word === 'fatal' || word === 'failed'
            ? 'failed'
            : (word as 'ok' | 'changed');
    const item = m[4] ?? m[5];
    const detail = m[6] && (status === 'failed' || status === 'unreachable') ? { detail: message(m[6]) } : {};
    return { type: 'result', host: m[2]!, status, ...(item ? { item } : {}), ...detail };
  }
  m = /^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)/.exec(line);
  if (m) {
    const [ok, changed, unreachable, failed, skipped] = m.slice(2, 7).map(Number) as [
      number,
      number,
      number,
      number,
      number,
    ];
    return { type: 'recap', host: m[1]!, counts: { ok, changed, unreachable, failed, skipped } };
  }
  return undefined;
}

/** The "msg" of a result's JSON, or the JSON itself cut short. */
function message(json: string): string {
  try {
    const v = JSON.parse(json) as { msg?: unknown; stderr?: unknown };
    const msg = [v.msg, v.stderr].filter((x) => typeof x === 'string' && x).join(': ');
    if (msg) return msg.split('\n')[0]!.slice(0, 300);
  } catch {
    /* not JSON: as it is */
  }
  return json.slice(0, 300);
}

const RANK: Record<string, number> = { skipped: 0, ok: 1, changed: 2, failed: 3, unreachable: 4 };

/** Runs ansible-playbook; every task result becomes a step of the provision stage; the recap per host comes back. */
export async function runAnsible(o: {
  playbook: string;
  hosts: AnsibleHost[];
  limit: string[];
  dir: string;
  title: string;
  emit: Emit;
  signal: AbortSignal;
}): Promise<Map<string, Counts>> {
  mkdirSync(join(o.dir, 'tmp'), { recursive: true, mode: 0o700 });
  const known = join(o.dir, 'known_hosts');
  const inventory = join(o.dir, 'inventory.ini');
  writeFileSync(known, knownHostsText(o.hosts), { mode: 0o600 });
  writeFileSync(inventory, inventoryText(o.hosts, known, o.title), { mode: 0o600 });
  const argv = ['-i', inventory, '--limit', o.limit.join(','), o.playbook];
  const env = {
    ...process.env,
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORCE_COLOR: '0',
    ANSIBLE_HOST_KEY_CHECKING: 'True',
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
    ANSIBLE_LOCAL_TEMP: join(o.dir, 'tmp'),
    ANSIBLE_REMOTE_TEMP: '/tmp/.virtlab-ansible',
    ANSIBLE_STDOUT_CALLBACK: 'default',
    ANSIBLE_LOAD_CALLBACK_PLUGINS: 'False',
    ANSIBLE_PIPELINING: 'True',
  };
  const child = spawn('ansible-playbook', argv, { cwd: dirname(o.playbook), env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = () => child.kill('SIGTERM');
  o.signal.addEventListener('abort', stop, { once: true });
  const log: string[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const recap = new Map<string, Counts>();
  const pending = new Map<string, { status: string; detail?: string }>();
  let task = '';
  let t0 = performance.now();
  const flush = () => {
    for (const [host, r] of pending) {
      const id = `${host}: ${task}`;
      o.emit({ type: 'step-start', stage: 'provision', id, title: id });
      const status = (r.status === 'unreachable' ? 'failed' : r.status) as StepStatus;
      const durationMs = Math.round(performance.now() - t0);
      o.emit({
        type: 'step-end',
        stage: 'provision',
        id,
        status,
        durationMs,
        ...(r.detail ? { detail: r.detail } : {}),
      });
    }
    pending.clear();
  };
  const exited = new Promise<number>((res, rej) => {
    child.on('error', (e) =>
      rej(new HostError(`cannot run ansible-playbook: ${e.message}`, 'bash scripts/install-deps.sh --ansible')),
    );
    child.on('close', (code) => res(code ?? 1));
  });
  for await (const line of createInterface({ input: child.stdout })) {
    log.push(line);
    const l = parseAnsibleLine(line);
    if (!l) continue;
    if (l.type === 'task' || l.type === 'play') {
      flush();
      task = l.type === 'task' ? l.name : task;
      t0 = performance.now();
    } else if (l.type === 'result') {
      const prev = pending.get(l.host);
      if (!prev || RANK[l.status]! >= RANK[prev.status]!)
        pending.set(l.host, { status: l.status, detail: l.detail ?? prev?.detail });
    } else {
      flush();
      recap.set(l.host, l.counts);
    }
  }
  flush();
  const code = await exited;
  o.signal.removeEventListener('abort', stop);
  writeFileSync(join(o.dir, 'ansible-playbook.log'), `${log.join('\n')}\n${stderr}`);
  if (o.signal.aborted) throw new InterruptedError('interrupted during ansible-playbook');
  for (const [host, c] of recap)
    o.emit({
      type: 'log',
      level: 'info',
      message: `${host}: ok=${c.ok} changed=${c.changed} failed=${c.failed + c.unreachable} (ansible-playbook ${basename(o.playbook)})`,
    });
  if (code !== 0 && !recap.size) {
    const why = (stderr.trim() || log.slice(-5).join('\n')).split('\n').slice(-5).join('\n');
    throw new HostError(
      `ansible-playbook ${basename(o.playbook)} failed (exit ${code}): ${why}`,
      `its output: ${join(o.dir, 'ansible-playbook.log')}`,
    );
  }
  return recap;
}
