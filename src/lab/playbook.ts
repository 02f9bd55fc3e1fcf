// Reading a playbook as Ansible does: YAML 1.1, Ansible's boolean forms, `sudo` as the old spelling of `become`,
// module names with or without their collection, and every documented option of each module accepted. What the
// subset does not do comes back as a warning when the outcome is the same and as an error (that points to real
// Ansible) when it is not; each with the task's file:line.
import type { Diagnostic } from '../errors.ts';
import {
  ansibleBool,
  MODULE_ALIASES,
  MODULE_OPTIONS,
  type ModuleName,
  OPTION_VALUES,
  PACKAGE_SUCCESSORS,
  PLAY_KEYS,
  type Support,
  TASK_KEYS,
} from './playbook-vocabulary.ts';
import { diag, readSource, type Source } from './source.ts';

export type { ModuleName } from './playbook-vocabulary.ts';

export interface PlaybookTask {
  name: string;
  module: ModuleName;
  /** the arguments as written: a key=value or free-form string, or a mapping (`args:` merged in) */
  raw: unknown;
  when?: string;
  items?: unknown[];
  /** the user the task runs as on the machine (root unless remote_user or become_user say otherwise) */
  user: string;
  /** file:line of the task, for messages at run time */
  where: string;
}

export interface Play {
  hosts: string;
  tasks: PlaybookTask[];
  vars: Record<string, unknown>;
}

export interface PlaybookRead {
  plays: Play[];
  /** errors and warnings (severity 'warning'), each at its file:line:col */
  diagnostics: Diagnostic[];
}

const ANSIBLE_HINT =
  'virtlab runs a subset of Ansible; for the rest, run the playbook with real Ansible: set provisioner: ansible on the machine in machines.yml, or pass --provisioner ansible';

/** Ansible's `key=value key2="quoted value"` form. */
export function parseKv(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Za-z_][A-Za-z0-9_-]*)=("([^"]*)"|'([^']*)'|((?:\{\{.*?\}\}|[^\s{])+))/g;
  for (const m of s.matchAll(re)) out[m[1]!] = m[3] ?? m[4] ?? m[5] ?? '';
  return out;
}

const isTemplate = (v: unknown) => typeof v === 'string' && v.includes('{{');
const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads a playbook; never throws for anything in the file. */
export function readPlaybook(path: string): PlaybookRead {
  const { source, diagnostics } = readSource(path, '1.1');
  if (!source) return { plays: [], diagnostics };
  const r = new Reader(source);
  if (!Array.isArray(source.data) || source.data.length === 0) {
    r.error([], 'this is not a playbook (expected a list of plays, each with hosts: and tasks:)');
    return { plays: [], diagnostics: r.out };
  }
  const plays = source.data.flatMap((p, i) => r.play(p, i));
  return { plays, diagnostics: r.out.sort((a, b) => a.line - b.line || a.col - b.col) };
}

type P = (string | number)[];

class Reader {
  readonly out: Diagnostic[] = [];
  constructor(readonly source: Source) {}

  error(path: P, message: string, hint?: string): void {
    this.out.push(diag(this.source, path, message, hint, { key: true }));
  }
  warn(path: P, message: string, hint?: string): void {
    this.out.push({ ...diag(this.source, path, message, hint, { key: true }), severity: 'warning' });
  }
  where(path: P): string {
    const d = diag(this.source, path, '');
    return `${d.file}:${d.line}`;
  }

  /** Checks a key against a keyword table: an error for what changes the outcome, a warning for what does not. */
  keyword(path: P, key: string, support: Support | undefined, what: string): boolean {
    if (support === 'unsupported')
      this.error(path, `${what} "${key}" is not supported by virtlab's subset`, ANSIBLE_HINT);
    else if (support === 'ignored') this.warn(path, `${what} "${key}" is ignored by virtlab's subset`);
    return support !== undefined;
  }

  bool(path: P, v: unknown, key: string): boolean | undefined {
    if (v === undefined || isTemplate(v)) return undefined;
    const b = ansibleBool(v);
    if (b === undefined)
      this.error(path, `${key} must be a boolean (yes/no, true/false, on/off, 1/0), not ${JSON.stringify(v)}`);
    return b;
  }

  /** become, sudo, become_user, remote_user of a play or task, over the defaults it inherits. */
  user(path: P, o: Record<string, unknown>, inherited: { become: boolean; becomeUser: string; remote: string }) {
    if ('sudo' in o) this.warn([...path, 'sudo'], 'sudo is the old spelling of become (read as become)');
    const become = this.bool([...path, 'become' in o ? 'become' : 'sudo'], o.become ?? o.sudo, 'become');
    const becomeUser = o.become_user ?? o.sudo_user;
    const remote = o.remote_user ?? o.user;
    return {
      become: become ?? inherited.become,
      becomeUser: typeof becomeUser === 'string' ? becomeUser : inherited.becomeUser,
      remote: typeof remote === 'string' ? remote : inherited.remote,
    };
  }

  play(p: unknown, i: number): Play[] {
    if (!isMap(p)) {
      this.error([i], 'a play must be a mapping with hosts: and tasks:');
      return [];
    }
    for (const k of Object.keys(p)) {
      if (!this.keyword([i, k], k, PLAY_KEYS[k], 'play keyword'))
        this.error([i, k], `unknown play keyword "${k}"`, `known: ${Object.keys(PLAY_KEYS).sort().join(', ')}`);
    }
    if (typeof p.hosts !== 'string')
      this.error([i], 'a play needs hosts: (all, a machine, a role, or names joined by ":")');
    if (!Array.isArray(p.tasks)) {
      if (p.tasks !== undefined) this.error([i, 'tasks'], 'tasks: must be a list of tasks');
      return [];
    }
    if (p.vars !== undefined && !isMap(p.vars)) this.error([i, 'vars'], 'vars: must be a mapping');
    const users = this.user([i], p, { become: false, becomeUser: 'root', remote: 'root' });
    const tasks = p.tasks.flatMap((t, j) => this.task(t, [i, 'tasks', j], users));
    return [{ hosts: String(p.hosts ?? ''), tasks, vars: isMap(p.vars) ? p.vars : {} }];
  }

  task(t: unknown, path: P, inherited: { become: boolean; becomeUser: string; remote: string }): PlaybookTask[] {
    if (!isMap(t)) {
      this.error(path, 'a task must be a mapping with a module, e.g. "apt: name=iproute2"');
      return [];
    }
    const modules = Object.keys(t).filter((k) => k in MODULE_ALIASES);
    for (const k of Object.keys(t)) {
      if (k in MODULE_ALIASES) continue;
      if (this.keyword([...path, k], k, TASK_KEYS[k], 'task keyword')) continue;
      this.error(
        [...path, k],
        `module "${k}" is not in virtlab's subset (${[...new Set(Object.values(MODULE_ALIASES))].join(', ')})`,
        ANSIBLE_HINT,
      );
      return [];
    }
    if (modules.length !== 1) {
      this.error(
        path,
        modules.length ? `a task names one module, not ${modules.join(' and ')}` : 'this task names no module',
      );
      return [];
    }
    const key = modules[0]!;
    const module = MODULE_ALIASES[key]!;
    const u = this.user(path, t, inherited);
    const items = t.with_items ?? t.loop;
    if (items !== undefined && !Array.isArray(items) && !isTemplate(items))
      this.error([...path, t.with_items !== undefined ? 'with_items' : 'loop'], 'a loop must be a list');
    if (t.when !== undefined && typeof t.when !== 'string' && typeof t.when !== 'boolean')
      this.error([...path, 'when'], 'when: must be an expression');
    const raw = this.args(module, t[key], isMap(t.args) ? t.args : undefined, [...path, key]);
    if (raw === undefined) return [];
    if (module === 'apt' && Array.isArray(items))
      this.successors(module, { name: items }, [...path, 'with_items' in t ? 'with_items' : 'loop']);
    return [
      {
        name: typeof t.name === 'string' ? t.name : `${key}`,
        module,
        raw,
        ...(t.when !== undefined ? { when: String(t.when) } : {}),
        ...(Array.isArray(items) ? { items } : {}),
        user: u.become ? u.becomeUser : u.remote,
        where: this.where(path),
      },
    ];
  }

  /** The module's arguments: every key checked against the module's documented options. */
  args(module: ModuleName, v: unknown, extra: Record<string, unknown> | undefined, path: P): unknown {
    const free = module === 'command' || module === 'shell';
    if (typeof v === 'string' && free) {
      // free form; key=value options of command may follow (creates=, chdir=, removes=)
      return extra ? { ...extra, cmd: v } : v;
    }
    if (v === null && free && extra) return extra;
    const a = typeof v === 'string' ? parseKv(v) : isMap(v) ? v : v === null || v === undefined ? {} : undefined;
    if (a === undefined) {
      this.error(path, `the arguments of ${module} must be key=value text or a mapping`);
      return undefined;
    }
    const args = { ...extra, ...a };
    const options = MODULE_OPTIONS[module];
    let ok = true;
    for (const [k, val] of Object.entries(args)) {
      const s = options[k];
      // an option written as a mapping key is pointed at; key=value text at its module
      const at = isMap(v) && k in v ? [...path, k] : path;
      if (s === undefined) {
        this.error(at, `unknown option "${k}" of ${module}`, `its options: ${Object.keys(options).sort().join(', ')}`);
        ok = false;
      } else if (s === 'unsupported' && ansibleBool(val) !== false) {
        this.error(at, `option "${k}" of ${module} is not supported by virtlab's subset`, ANSIBLE_HINT);
        ok = false;
      } else if (s === 'ignored') this.warn(at, `option "${k}" of ${module} is ignored by virtlab's subset`);
      const allowed = OPTION_VALUES[module]?.[k];
      if (allowed && !isTemplate(val) && !allowed.includes(String(val))) {
        this.error(
          at,
          `${module} ${k}=${String(val)} is not supported by virtlab's subset (${allowed.join(', ')})`,
          ANSIBLE_HINT,
        );
        ok = false;
      }
    }
    for (const k of ['update_cache', 'force', 'recurse', 'install_recommends', 'reload', 'sysctl_set', 'ignoreerrors'])
      if (k in args && this.bool(path, args[k], `${module} ${k}`) === undefined && !isTemplate(args[k])) ok = false;
    if (!this.required(module, args, path)) ok = false;
    this.successors(module, args, path);
    return ok ? args : undefined;
  }

  required(module: ModuleName, a: Record<string, unknown>, path: P): boolean {
    const need: Record<ModuleName, [string[], string][]> = {
      apt: [[['name', 'pkg', 'package', 'update_cache', 'update-cache'], 'name']],
      get_url: [
        [['url'], 'url'],
        [['dest'], 'dest'],
      ],
      copy: [
        [['dest'], 'dest'],
        [['src', 'content'], 'src or content'],
      ],
      file: [[['path', 'dest', 'name'], 'path']],
      command: [[['cmd', 'argv'], 'a command']],
      shell: [[['cmd'], 'a command']],
      sysctl: [[['name'], 'name']],
      debug: [],
    };
    const missing = need[module].filter(([keys]) => !keys.some((k) => k in a)).map(([, what]) => what);
    for (const m of missing) this.error(path, `${module} needs ${m}`);
    return missing.length === 0;
  }

  successors(module: ModuleName, a: Record<string, unknown>, path: P): void {
    if (module !== 'apt') return;
    const names = a.name ?? a.pkg ?? a.package;
    for (const n of Array.isArray(names) ? names : typeof names === 'string' ? names.split(',') : []) {
      const next = PACKAGE_SUCCESSORS[String(n).trim()];
      if (next)
        this.warn(
          path,
          `package ${String(n).trim()} no longer exists in Debian 12: ${next.join(' and ')} will be installed instead`,
        );
    }
  }
}
