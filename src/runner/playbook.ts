// Playbooks at run time: the tasks the reader (lab/playbook.ts) found, expanded per machine: loops, templates, when.
import { DefinitionError, type Diagnostic, UsageError } from '../errors.ts';
import { type ModuleName, type Play, parseKv, readPlaybook } from '../lab/playbook.ts';

export type { ModuleName, Play } from '../lab/playbook.ts';

export interface Task {
  name: string;
  module: ModuleName;
  /** arguments after templating, one set per loop item */
  args: Record<string, unknown>;
  /** the user it runs as on the machine */
  user: string;
  /** file:line of the task */
  where: string;
}

/** The plays of a playbook, or DefinitionError with every error; warnings come back to be said. */
export function loadPlaybook(path: string): { plays: Play[]; warnings: Diagnostic[] } {
  const { plays, diagnostics } = readPlaybook(path);
  const errors = diagnostics.filter((d) => d.severity !== 'warning');
  if (errors.length) throw new DefinitionError(errors);
  return { plays, warnings: diagnostics.filter((d) => d.severity === 'warning') };
}

/** The options of command and shell that may be written inside their free form (`creates=/x make`). */
const FREE_FORM_OPTIONS = /(?:^|\s)(creates|removes|chdir|executable|stdin)=("[^"]*"|'[^']*'|\S+)/g;

/** A command or shell task's arguments: the free form split from its options. */
export function freeForm(raw: unknown): Record<string, unknown> {
  if (typeof raw !== 'string') return raw as Record<string, unknown>;
  const opts: Record<string, string> = {};
  const cmd = raw
    .replace(FREE_FORM_OPTIONS, (_all, k: string, v: string) => {
      opts[k] = v.replace(/^(["'])(.*)\1$/, '$2');
      return '';
    })
    .trim();
  return { ...opts, cmd };
}

/** `{{ item }}`, `{{ inventory_hostname }}` and play vars; anything else is left for the user to see. */
export function template(v: unknown, vars: Record<string, unknown>): unknown {
  if (typeof v === 'string') {
    const whole = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/.exec(v);
    if (whole && whole[1]! in vars) return vars[whole[1]!];
    return v.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (all, k: string) =>
      k in vars ? String(vars[k]) : all,
    );
  }
  if (Array.isArray(v)) return v.map((x) => template(x, vars));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, template(x, vars)]));
  return v;
}

/** `when:` in the forms classic labs use: `inventory_hostname == 'x'`, `!=`, `in [...]`, and/or. */
export function evalWhen(expr: string, vars: Record<string, unknown>): boolean {
  return expr.split(/\s+or\s+/).some((alt) => alt.split(/\s+and\s+/).every((term) => evalTerm(term.trim(), vars)));
}

function evalTerm(term: string, vars: Record<string, unknown>): boolean {
  const lit = (s: string): unknown => {
    const t = s.trim();
    if (/^'.*'$|^".*"$/.test(t)) return t.slice(1, -1);
    if (/^\[.*\]$/.test(t))
      return t
        .slice(1, -1)
        .split(',')
        .map((x) => lit(x))
        .filter((x) => x !== '');
    if (t === 'true' || t === 'True') return true;
    if (t === 'false' || t === 'False') return false;
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(t)) {
      if (!(t in vars)) throw new UsageError(`unknown variable "${t}" in when: ${term}`);
      return vars[t];
    }
    return t;
  };
  const not = /^not\s+(.*)$/.exec(term);
  if (not) return !evalTerm(not[1]!, vars);
  let m = /^(.+?)\s*(==|!=)\s*(.+)$/.exec(term);
  if (m) return (String(lit(m[1]!)) === String(lit(m[3]!))) === (m[2] === '==');
  m = /^(.+?)\s+(not in|in)\s+(.+)$/.exec(term);
  if (m) {
    const hay = lit(m[3]!);
    const found = Array.isArray(hay)
      ? hay.map(String).includes(String(lit(m[1]!)))
      : String(hay).includes(String(lit(m[1]!)));
    return m[2] === 'in' ? found : !found;
  }
  return Boolean(lit(term));
}

/** `hosts:` matches a machine by name, by role (hypervisor[s], peer[s]) or all; patterns joined with ':' or ','. */
export function hostsMatch(hosts: string, machine: string, role: string): boolean {
  return hosts
    .split(/[:,]/)
    .map((h) => h.trim())
    .some((h) => h === 'all' || h === '*' || h === machine || h === role || h === `${role}s`);
}

/** Expands one task for a machine: loop items, templating, `when`. */
export function expandTask(t: Play['tasks'][number], vars: Record<string, unknown>): Task[] {
  const items = t.items ?? [undefined];
  const out: Task[] = [];
  for (const item of items) {
    const v = item === undefined ? vars : { ...vars, item };
    if (t.when && !evalWhen(t.when, v)) continue;
    const free = t.module === 'command' || t.module === 'shell';
    const raw = free ? freeForm(t.raw) : typeof t.raw === 'string' ? parseKv(t.raw) : t.raw;
    out.push({
      name: String(template(t.name, v)),
      module: t.module,
      args: template(raw, v) as Record<string, unknown>,
      user: String(template(t.user, v)),
      where: t.where,
    });
  }
  // an apt task over a loop becomes one task naming every package, like Ansible does
  if (t.module === 'apt' && out.length > 1) {
    const names = out.flatMap((x) => toList(x.args.name ?? x.args.pkg ?? x.args.package));
    return [
      {
        ...out[0]!,
        name:
          String(template(t.name, vars))
            .replace(/\{\{.*?\}\}/g, '')
            .trim() || 'apt',
        args: { ...out[0]!.args, name: names, pkg: undefined, package: undefined },
      },
    ];
  }
  return out;
}

export function toList(v: unknown): string[] {
  if (v === undefined) return [];
  if (Array.isArray(v)) return v.map(String);
  return String(v)
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}
