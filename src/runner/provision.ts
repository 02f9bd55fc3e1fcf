// The provision stage: each machine's playbook, run by virtlab's subset (builtin) or by real ansible-playbook. A
// playbook's warnings are said first; on namespace machines, which share the control host's files, tasks that would
// change the host are refused before anything runs, whoever runs them.
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DefinitionError, formatDiagnostic, HostError } from '../errors.ts';
import { home } from '../host/home.ts';
import { allDone } from '../host/parallel.ts';
import type { Session } from '../kinds/session.ts';
import type { Lab, Machine } from '../lab/model.ts';
import { readPlaybook } from '../lab/playbook.ts';
import { ansibleBool } from '../lab/playbook-vocabulary.ts';
import { providerFor } from '../providers/index.ts';
import type { Problem } from '../providers/port.ts';
import type { Emit } from '../report/events.ts';
import type { Executor } from '../transport/executor.ts';
import { type AnsibleHost, runAnsible } from './ansible.ts';
import { type ModuleContext, packagesFor, runModule, type TaskOutcome } from './modules.ts';
import { expandTask, hostsMatch, loadPlaybook, type Task, toList } from './playbook.ts';

export { type ModuleContext, runModule, splitWords, type TaskOutcome } from './modules.ts';

export type Provisioner = 'builtin' | 'ansible';

export const provisionerOf = (m: Machine, override?: Provisioner): Provisioner =>
  override ?? m.provisioner ?? 'builtin';

export interface ProvisionOptions {
  emit: Emit;
  /** --provisioner: the same for every machine */
  provisioner?: Provisioner;
  signal: AbortSignal;
}

export async function runProvisioning(s: Session, o: ProvisionOptions): Promise<void> {
  const machines = s.lab.machines.filter((m) => m.provision);
  const viaAnsible = machines.filter((m) => provisionerOf(m, o.provisioner) === 'ansible');
  const refusals = (
    await Promise.all(machines.map((m) => refusedOnSharedHost(s, m, provisionerOf(m, o.provisioner))))
  ).flat();
  if (refusals.length)
    throw new HostError(
      `provisioning refused before anything ran: namespace machines share this host's files and packages, and these tasks would change them:\n${refusals.map((r) => `  - ${r}`).join('\n')}`,
      'run these machines as VMs (provider: vm in machines.yml, or --provider vm), or take the tasks out',
    );
  const failures: string[] = [];
  const builtin = machines
    .filter((m) => !viaAnsible.includes(m))
    .map(async (m) => {
      const h = s.machines.get(m.name)!;
      const counts = await runPlaybook(m, h.exec, { ...contextOf(s, m), emit: o.emit });
      if (counts.failed) failures.push(`${m.name}: ${counts.failed} task(s) failed`);
    });
  const byPlaybook = new Map<string, Machine[]>();
  for (const m of viaAnsible) byPlaybook.set(m.provision!, [...(byPlaybook.get(m.provision!) ?? []), m]);
  const ansible = [...byPlaybook].map(async ([playbook, ms], i) => {
    const recap = await runAnsible({
      playbook,
      hosts: ansibleHosts(s),
      limit: ms.map((m) => m.name),
      dir: join(s.store.state.runDir, `ansible-${i + 1}`),
      title: `virtlab inventory of ${s.store.state.instance} (lab ${s.lab.name})`,
      emit: o.emit,
      signal: o.signal,
    });
    for (const m of ms) {
      const c = recap.get(m.name);
      if (!c) failures.push(`${m.name}: ansible-playbook reported nothing for it`);
      else if (c.failed || c.unreachable) failures.push(`${m.name}: ${c.failed + c.unreachable} task(s) failed`);
    }
  });
  await allDone([...builtin, ...ansible]);
  if (failures.length)
    throw new HostError(`provisioning failed (${failures.join('; ')})`, 'see the failed tasks above');
}

/** The playbooks the subset is to run must read without errors: checked before anything is created. */
export function checkPlaybooks(lab: Lab, override?: Provisioner): void {
  const files = new Set(
    lab.machines.filter((m) => m.provision && provisionerOf(m, override) === 'builtin').map((m) => m.provision!),
  );
  const errors = [...files].flatMap((f) => readPlaybook(f).diagnostics.filter((d) => d.severity !== 'warning'));
  if (errors.length) throw new DefinitionError(errors);
}

/** A lab that asks for real Ansible on a host without ansible-playbook is refused in preflight. */
export function ansibleProblems(lab: Lab, override?: Provisioner): Problem[] {
  const who = lab.machines.filter((m) => m.provision && provisionerOf(m, override) === 'ansible').map((m) => m.name);
  if (!who.length || onPath('ansible-playbook')) return [];
  return [
    {
      what: `ansible-playbook is not installed (the playbooks of ${who.join(', ')} are to run with real Ansible)`,
      hint: 'bash scripts/install-deps.sh --ansible (ansible-core from Debian), or --provisioner builtin',
    },
  ];
}

const onPath = (bin: string) => (process.env.PATH ?? '/usr/bin').split(':').some((d) => d && existsSync(join(d, bin)));

/** The lab's machines as Ansible reaches them (the same access `virtlab ssh` uses). */
export function ansibleHosts(s: Pick<Session, 'store'>): AnsibleHost[] {
  const provider = providerFor(s.store.state);
  return s.store.state.machines.map((m) => ({ name: m.name, role: m.role, access: provider.access(s.store, m) }));
}

/** Per session: the host's packages as dpkg said (namespace machines share them; see ModuleContext). */
const hostPackages = new WeakMap<Session, Map<string, Promise<string[]>>>();

function contextOf(s: Session, m: Machine): Omit<ModuleContext, 'x'> {
  const h = s.machines.get(m.name)!;
  if (h.sharedFilesystem && !hostPackages.has(s)) hostPackages.set(s, new Map());
  return {
    sharedFilesystem: h.sharedFilesystem ?? false,
    ...(h.sharedFilesystem ? { hostPackages: hostPackages.get(s)! } : {}),
    ...(h.privatePaths ? { privatePaths: h.privatePaths } : {}),
    playbookDir: dirname(m.provision!),
    downloads: join(home().cache, 'downloads'),
  };
}

/** Tasks of a playbook real Ansible would run on a namespace machine that would change the control host. */
export async function refusedOnSharedHost(s: Session, m: Machine, who: Provisioner): Promise<string[]> {
  const h = s.machines.get(m.name)!;
  if (!h.sharedFilesystem) return [];
  const { plays, diagnostics } = readPlaybook(m.provision!);
  // what the subset cannot read, virtlab cannot tell the effect of
  const out = diagnostics
    .filter((d) => d.severity !== 'warning' && who === 'ansible')
    .map((d) => `${m.name}: ${formatDiagnostic(d).split('\n')[0]} (cannot tell what it changes)`);
  const ctx = { ...contextOf(s, m), x: h.exec };
  // every task at once: the questions are dpkg-query and path checks, none changes anything
  const whys = await Promise.all(tasksFor(plays, m).map(async (t) => [t, await hostChange(t, ctx, who)] as const));
  for (const [t, why] of whys) if (why) out.push(`${m.name}: task "${t.name}" (${t.where}): ${why}`);
  return out;
}

/** The variables Ansible gives every host, as the subset knows them. */
const hostVars = (m: Machine) => ({
  inventory_hostname: m.name,
  ansible_hostname: m.name,
  group_names: [m.role, `${m.role}s`],
});

function tasksFor(plays: ReturnType<typeof readPlaybook>['plays'], m: Machine): Task[] {
  const vars = hostVars(m);
  const out: Task[] = [];
  for (const play of plays.filter((p) => hostsMatch(p.hosts, m.name, m.role)))
    for (const t of play.tasks) {
      try {
        out.push(...expandTask(t, { ...play.vars, ...vars }));
      } catch {
        /* a when: the subset cannot evaluate: the task is judged as if it ran */
        out.push(...expandTask({ ...t, when: undefined }, { ...play.vars, ...vars }));
      }
    }
  return out;
}

/** Why a task would change the control host, or undefined. */
async function hostChange(t: Task, c: ModuleContext, who: Provisioner): Promise<string | undefined> {
  // the subset never updates the host's package lists; apt-get update under real Ansible would
  if (t.module === 'apt' && who === 'ansible' && ansibleBool(t.args.update_cache ?? t.args['update-cache']))
    return "update_cache would update the host's package lists";
  if (t.module === 'apt') {
    const { pkgs } = packagesFor(toList(t.args.name ?? t.args.pkg ?? t.args.package));
    const r = await runModule({ ...t, args: { ...t.args, name: pkgs, update_cache: false } }, c);
    return r.status === 'failed' ? r.detail : undefined;
  }
  if (t.module === 'file' || t.module === 'copy' || t.module === 'get_url') {
    const path = String(t.args.path ?? t.args.dest ?? t.args.name);
    const mine = c.privatePaths?.some((p) => path === p || path.startsWith(`${p}/`));
    return mine
      ? undefined
      : `${path} is on the control host (only ${c.privatePaths?.join(', ')} are the machine's own)`;
  }
  if (t.module === 'sysctl' && !String(t.args.name).startsWith('net.'))
    return `${t.args.name} is the control host's (only net.* is per namespace)`;
  return undefined;
}

export async function runPlaybook(
  m: Machine,
  x: Executor,
  o: Pick<ModuleContext, 'sharedFilesystem' | 'privatePaths' | 'hostPackages'> & { emit: Emit },
): Promise<{ ok: number; changed: number; failed: number }> {
  const { plays, warnings } = loadPlaybook(m.provision!);
  for (const w of warnings) o.emit({ type: 'log', level: 'warn', message: formatDiagnostic(w) });
  const ctx: ModuleContext = {
    ...o,
    x,
    playbookDir: dirname(m.provision!),
    downloads: join(home().cache, 'downloads'),
  };
  const counts = { ok: 0, changed: 0, failed: 0 };
  const vars = hostVars(m);
  all: for (const play of plays) {
    if (!hostsMatch(play.hosts, m.name, m.role)) continue;
    for (const t of play.tasks) {
      for (const task of expandTask(t, { ...play.vars, ...vars })) {
        const out = await runTask(m, task, ctx, o.emit);
        counts[out.status]++;
        if (out.status === 'failed') break all;
      }
    }
  }
  // counted as Ansible's recap counts them: ok includes the tasks that changed something
  o.emit({
    type: 'log',
    level: 'info',
    message: `${m.name}: ok=${counts.ok + counts.changed} changed=${counts.changed} failed=${counts.failed} (${basename(m.provision!)})`,
  });
  return counts;
}

async function runTask(m: Machine, task: Task, ctx: ModuleContext, emit: Emit): Promise<TaskOutcome> {
  const t0 = performance.now();
  const id = `${m.name}: ${task.name}`;
  emit({ type: 'step-start', stage: 'provision', id, title: id });
  let out: TaskOutcome;
  try {
    out = await runModule(task, ctx);
  } catch (e) {
    out = { status: 'failed', detail: (e as Error).message.split('\n')[0] };
  }
  const durationMs = Math.round(performance.now() - t0);
  emit({ type: 'step-end', stage: 'provision', id, status: out.status, durationMs, detail: out.detail });
  return out;
}
