// Playbooks: the Ansible-style subset classic lab provisioning uses, normalised into typed tasks.
import { DefinitionError, UsageError } from '../errors.ts';
import { compileSchemas, validateAgainst } from '../lab/schema.ts';
import { readSource } from '../lab/source.ts';

export type ModuleName = 'apt' | 'get_url' | 'copy' | 'file' | 'command' | 'shell' | 'sysctl';
export const MODULES: readonly ModuleName[] = ['apt', 'get_url', 'copy', 'file', 'command', 'shell', 'sysctl'];

export interface Task {
  name: string;
  module: ModuleName;
  /** arguments after templating, one set per loop item */
  args: Record<string, unknown>;
}

export interface Play {
  hosts: string;
  tasks: { name: string; module: ModuleName; raw: unknown; when?: string; items?: unknown[] }[];
  vars: Record<string, unknown>;
}

export function loadPlaybook(path: string): Play[] {
  const { source, diagnostics } = readSource(path, '1.1');
  if (!source) throw new DefinitionError(diagnostics);
  const d = validateAgainst(compileSchemas().playbook, source, 'playbook');
  if (d.length) throw new DefinitionError(d);
  return (source.data as any[]).map((p) => ({
    hosts: String(p.hosts),
    vars: p.vars ?? {},
    tasks: (p.tasks ?? []).map((t: any, i: number) => {
      const module = MODULES.find((m) => m in t);
      if (!module)
        throw new DefinitionError([
          {
            file: source.file,
            line: 1,
            col: 1,
            message: `task ${i + 1} of play "${p.hosts}" names no module (one of ${MODULES.join(', ')})`,
          },
        ]);
      return {
        name: t.name ?? `${module} ${i + 1}`,
        module,
        raw: t[module],
        when: t.when,
        items: t.with_items ?? t.loop,
      };
    }),
  }));
}

/** Ansible's `key=value key2="quoted value"` form. */
export function parseKv(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|'([^']*)'|((?:\{\{.*?\}\}|[^\s{])+))/g;
  for (const m of s.matchAll(re)) out[m[1]!] = m[3] ?? m[4] ?? m[5] ?? '';
  return out;
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
    const raw = typeof t.raw === 'string' && t.module !== 'command' && t.module !== 'shell' ? parseKv(t.raw) : t.raw;
    out.push({
      name: String(template(t.name, v)),
      module: t.module,
      args: (t.module === 'command' || t.module === 'shell' ? { cmd: template(raw, v) } : template(raw, v)) as Record<
        string,
        unknown
      >,
    });
  }
  // an apt task over a loop becomes one task naming every package, like Ansible does
  if (t.module === 'apt' && out.length > 1) {
    const names = out.flatMap((x) => toList(x.args.name ?? x.args.pkg));
    return [
      {
        ...out[0]!,
        name:
          String(template(t.name, vars))
            .replace(/\{\{.*?\}\}/g, '')
            .trim() || 'apt',
        args: { ...out[0]!.args, name: names },
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
