// command: a generic check: an argv on a machine (or inside a guest, over its console), its exit code, patterns its
// stdout and stderr must match, and optionally one value of its JSON output (ip -j, virsh --json style).
import { scaled, TIMEOUTS } from '../../host/config.ts';
import type { AssertionBase } from '../../lab/model.ts';
import { displayLine } from '../../transport/quote.ts';
import { defineCheck, ref } from '../define.ts';
import { inVm, nodeExec } from '../session.ts';
import { ev } from './observe.ts';

export interface CommandAssertion extends AssertionBase {
  kind: 'command';
  on: string;
  argv: string[];
  exit: number;
  stdout?: string;
  stderr?: string;
  json?: { path: string; equals?: string | number | boolean; matches?: string };
}

type Raw = Omit<CommandAssertion, keyof AssertionBase | 'exit'> & { exit?: number };

/** A value inside parsed JSON by a dotted path of keys and list indexes ("0.linkinfo.info_kind"). */
export function jsonAt(value: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>(
      (v, key) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined),
      value,
    );
}

function patternProblem(p: string | undefined): string | undefined {
  if (p === undefined) return undefined;
  try {
    new RegExp(p);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** What the output says against what was asked of it; undefined when it all holds. */
function mismatch(a: CommandAssertion, stdout: string, stderr: string): string | undefined {
  if (a.stdout && !new RegExp(a.stdout, 'm').test(stdout)) return `stdout does not match /${a.stdout}/`;
  if (a.stderr && !new RegExp(a.stderr, 'm').test(stderr)) return `stderr does not match /${a.stderr}/`;
  if (!a.json) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(stdout);
  } catch {
    return 'stdout is not JSON';
  }
  const v = jsonAt(data, a.json.path);
  if (a.json.equals !== undefined && v !== a.json.equals)
    return `${a.json.path} is ${JSON.stringify(v)}, not ${JSON.stringify(a.json.equals)}`;
  if (a.json.matches !== undefined && !new RegExp(a.json.matches).test(String(v)))
    return `${a.json.path} is ${JSON.stringify(v)}, not matching /${a.json.matches}/`;
  return undefined;
}

export const command = defineCheck<CommandAssertion, Raw>({
  kind: 'command',
  summary: 'a command on a machine (or in a guest) exits as expected and its output matches patterns or a JSON value',
  schema: {
    required: ['on', 'argv'],
    properties: {
      on: ref('node', 'A machine, or a guest (over its serial console).'),
      argv: { type: 'array', minItems: 1, items: ref('arg') },
      exit: { type: 'integer', minimum: 0, maximum: 255, description: 'The exit code it must end with (default 0).' },
      stdout: { type: 'string', maxLength: 400, description: 'A regular expression its standard output must match.' },
      stderr: { type: 'string', maxLength: 400, description: 'A regular expression its standard error must match.' },
      json: {
        type: 'object',
        additionalProperties: false,
        required: ['path'],
        properties: {
          path: {
            type: 'string',
            pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$',
            description: 'Keys and list indexes: 0.linkinfo.info_kind',
          },
          equals: { type: ['string', 'number', 'boolean'] },
          matches: { type: 'string', maxLength: 400 },
        },
        description: 'One value of its JSON output (e.g. of ip -j).',
      },
    },
  },
  resolve(raw, ctx, at, base) {
    if (!ctx.checkNode([...at, 'on'], raw.on)) return undefined;
    for (const [field, p] of [
      ['stdout', raw.stdout],
      ['stderr', raw.stderr],
    ] as const) {
      const problem = patternProblem(p);
      if (problem) ctx.err([...at, field], `"${field}" is not a valid pattern: ${problem}`);
    }
    const problem = patternProblem(raw.json?.matches);
    if (problem) ctx.err([...at, 'json', 'matches'], `"matches" is not a valid pattern: ${problem}`);
    const { on, argv, stdout, stderr, json } = raw;
    return {
      ...base,
      kind: 'command',
      on,
      argv,
      exit: raw.exit ?? 0,
      ...(stdout ? { stdout } : {}),
      ...(stderr ? { stderr } : {}),
      ...(json ? { json } : {}),
    };
  },
  title: (a) =>
    `\`${displayLine(a.argv)}\` on ${a.on} exits ${a.exit}${a.stdout ? ` and prints /${a.stdout}/` : ''}${a.json ? ` with ${a.json.path} ${a.json.equals !== undefined ? `= ${JSON.stringify(a.json.equals)}` : `~ /${a.json.matches}/`}` : ''}`,
  nodes: (a) => [a.on],
  async check(a, s) {
    const timeoutMs = scaled(TIMEOUTS.consoleCommandMs, inVm(s, a.on));
    const r = await nodeExec(s, a.on).run(a.argv, { check: false, timeoutMs });
    const last = (r.stderr || r.stdout).trim().split('\n').pop() ?? '';
    if (r.exitCode !== a.exit)
      return {
        ok: false,
        seen: `exit ${r.exitCode} (expected ${a.exit})${last ? `: ${last}` : ''}`,
        evidence: [ev(r)],
      };
    const wrong = mismatch(a, r.stdout, r.stderr);
    return {
      ok: !wrong,
      seen: wrong
        ? `exit ${r.exitCode}, but ${wrong}`
        : `exit ${r.exitCode}${a.stdout || a.json ? ', output as expected' : ''}`,
      evidence: [ev(r)],
    };
  },
});
