// JSON Schema validation (ajv, allErrors) turned into file:line diagnostics a person can act on.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import type { Diagnostic } from '../errors.ts';
import { COMPILED, packagePath } from '../host/package-root.ts';
import { composeLabSchema } from './lab-schema.ts';
import type { Path } from './model.ts';
import { diag, type Source } from './source.ts';
import { didYouMean } from './suggest.ts';

export type SchemaName = 'lab' | 'machines' | 'playbook';

export const schemaDir = `${packagePath('schema')}/`;

// ajv is loaded only when the schemas are compiled here (not when the precompiled validators are used)
const require = createRequire(import.meta.url);

// Compiling costs 150-350 ms and a run needs the validators several times (lab, each machine's playbook). The
// schemas are files of the installation that never change while a process runs, so they are compiled once; and
// `npm run build` compiles them ahead into dist/lab/validators.cjs (ajv's standalone code), which the compiled CLI
// loads instead while no schema file is newer than it.
let compiled: Record<SchemaName, ValidateFunction> | undefined;
const NAMES: SchemaName[] = ['lab', 'machines', 'playbook'];
const PRECOMPILED = packagePath(COMPILED ? 'dist' : 'src', 'lab', 'validators.cjs');

export function compileSchemas(): Record<SchemaName, ValidateFunction> {
  compiled ??= precompiled() ?? compileFresh();
  return compiled;
}

function newAjv(standalone: boolean): Ajv {
  const { Ajv, _ } = require('ajv') as typeof import('ajv');
  const addFormats = require('ajv-formats') as (ajv: Ajv) => Ajv;
  const ajv = new Ajv({
    allErrors: true,
    discriminator: true,
    verbose: true,
    strict: false,
    ...(standalone ? { code: { source: true, formats: _`require("ajv-formats/dist/formats").fullFormats` } } : {}),
  });
  addFormats(ajv);
  return ajv;
}

// the lab schema is composed from its base and the kind modules; the others are plain files
const schemaText = (n: SchemaName) =>
  n === 'lab' ? composeLabSchema() : JSON.parse(readFileSync(`${schemaDir}${n}.schema.json`, 'utf8'));
const schemaFile = (n: SchemaName) => `${schemaDir}${n === 'lab' ? 'lab.base' : `${n}.schema`}.json`;

export function compileFresh(): Record<SchemaName, ValidateFunction> {
  const ajv = newAjv(false);
  return Object.fromEntries(NAMES.map((n) => [n, ajv.compile(schemaText(n))])) as Record<SchemaName, ValidateFunction>;
}

/** The validators `writePrecompiled` wrote, unless a schema file changed since. */
export function precompiled(file = PRECOMPILED): Record<SchemaName, ValidateFunction> | undefined {
  if (!existsSync(file)) return undefined;
  const built = statSync(file).mtimeMs;
  if (NAMES.some((n) => statSync(schemaFile(n)).mtimeMs > built)) return undefined;
  return require(file) as Record<SchemaName, ValidateFunction>;
}

/** Writes the validators as standalone code (run by `npm run build`, next to the compiled schema.js). */
export function writePrecompiled(file = PRECOMPILED): void {
  const ajv = newAjv(true);
  for (const n of NAMES) ajv.addSchema(schemaText(n), n);
  const standaloneCode = (
    require('ajv/dist/standalone') as { default: (ajv: Ajv, refs: Record<string, string>) => string }
  ).default;
  writeFileSync(file, standaloneCode(ajv, Object.fromEntries(NAMES.map((n) => [n, n]))));
}

const NOUNS: Record<string, string> = {
  machineName: 'machine name (lowercase letters, digits and "-", starting with a letter, at most 15 characters)',
  netName: 'network name (lowercase letters, digits and "-", starting with a letter, at most 15 characters)',
  nicName: 'interface name (lowercase letters and digits, starting with a letter, at most 15 characters)',
  ifName: 'interface name (lowercase letters, digits, ".", "_" and "-", starting with a letter, at most 15 characters)',
  objName: 'libvirt object name (letters, digits, "_", "." and "-", at most 32 characters)',
  labName: 'lab name (lowercase letters, digits and "-", at most 24 characters)',
  stepId: 'id (lowercase letters, digits and "-", at most 40 characters)',
  cidr: 'IPv4 network in CIDR form (e.g. 192.168.100.0/24)',
  mac: 'MAC address (six hex pairs separated by ":")',
  relPath: 'path relative to the lab folder (letters, digits, "_", ".", "-" and "/")',
  imageRef: 'image name (e.g. cirros or cirros@0.3.2)',
  endpoint: 'machine name, guest name or IPv4 address',
  node: 'machine or guest name',
  size: 'whole number (e.g. 2048 or "2048")',
  line: 'single line of text without control characters (at most 200 characters)',
  text: 'text without control characters such as terminal escape sequences (at most 4000 characters)',
  arg: 'argument (at most 4096 characters, no NUL byte)',
  paramName: 'parameter name (lowercase letters, digits and "_", starting with a letter)',
  paramValue: 'parameter value (letters, digits, "_", "." and "-")',
  playbook: 'playbook file name in playbooks/ (no folders, ending in .yml)',
};

function nounFor(e: ErrorObject): string | undefined {
  const m = /#\/definitions\/([A-Za-z]+)\//.exec(`${e.schemaPath}/`);
  return m ? NOUNS[m[1]!] : undefined;
}

function toPath(instancePath: string): Path {
  if (!instancePath) return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function show(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `a ${typeof v}`;
}

/** A field as a person would name it: `"ram" of step "guest"` rather than steps.4.ram. */
export function whereIn(path: Path, data?: unknown): string {
  if (!path.length) return 'the document';
  const [head, idx, ...rest] = path;
  const item = (data as any)?.[head as string]?.[idx as number];
  if ((head === 'steps' || head === 'teardown' || head === 'assertions') && typeof idx === 'number') {
    const label = `${head === 'assertions' ? 'assertion' : head === 'teardown' ? 'teardown step' : 'step'} ${item?.id ? `"${item.id}"` : `#${idx + 1}`}`;
    return rest.length ? `"${rest.join('.')}" of ${label}` : label;
  }
  if (Array.isArray(data) && typeof head === 'number') {
    const it = (data as any[])[head];
    const label =
      it?.name !== undefined && it?.tasks === undefined
        ? `machine #${head + 1} (${it.name})`
        : it?.hosts !== undefined || it?.tasks !== undefined
          ? `play #${head + 1}${it.hosts !== undefined ? ` (hosts ${it.hosts})` : ''}`
          : `item #${head + 1}`;
    if (idx === 'tasks' && typeof rest[0] === 'number') {
      const t = it?.tasks?.[rest[0]];
      const tl = `task #${rest[0] + 1}${t?.name ? ` ("${t.name}")` : ''} of ${label}`;
      return rest.length > 1 ? `"${rest.slice(1).join('.')}" of ${tl}` : tl;
    }
    return idx === undefined ? label : `"${[idx, ...rest].join('.')}" of ${label}`;
  }
  return `"${path.join('.')}"`;
}

/** Validates parsed data against a schema; returns every problem, each located in the file. */
export function validateAgainst(validate: ValidateFunction, source: Source, what: string): Diagnostic[] {
  if (validate(source.data)) return [];
  let errors = pickRelevant(validate.errors ?? []);
  // "missing description" next to "unknown key descripton; did you mean description" says the same twice
  const typos = errors
    .filter((e) => e.keyword === 'additionalProperties')
    .map((e) => ({
      at: e.instancePath,
      guess: didYouMean(
        String((e.params as any).additionalProperty),
        Object.keys((e.parentSchema as any)?.properties ?? {}),
      ),
    }));
  errors = errors.filter(
    (e) =>
      !(
        e.keyword === 'required' &&
        typos.some((t) => t.at === e.instancePath && t.guess === (e.params as any).missingProperty)
      ),
  );
  const out: Diagnostic[] = [];
  for (const e of errors) {
    const d = describe(e, source, what);
    if (d && !out.some((o) => o.line === d.line && o.message === d.message)) out.push(d);
  }
  return out.sort((a, b) => a.line - b.line || a.col - b.col);
}

// oneOf reports every branch's complaints (with $ref branches their schemaPaths differ): when the value matched a
// branch's type, keep that branch's errors; when it matched none, keep one summary line.
function pickRelevant(errors: ErrorObject[]): ErrorObject[] {
  let kept = errors.filter((e) => e.keyword !== 'if');
  for (const o of errors.filter((e) => e.keyword === 'oneOf')) {
    const under = (e: ErrorObject) =>
      e !== o && (e.instancePath === o.instancePath || e.instancePath.startsWith(`${o.instancePath}/`));
    const typeHere = (e: ErrorObject) => e.keyword === 'type' && e.instancePath === o.instancePath;
    const specific = kept.filter((e) => under(e) && !typeHere(e));
    kept = specific.length
      ? kept.filter((e) => e !== o && !typeHere(e))
      : kept.filter((e) => !(under(e) && typeHere(e)));
  }
  return kept;
}

interface ErrorContext {
  e: ErrorObject;
  source: Source;
  what: string;
  path: Path;
  p: Record<string, any>;
  where: (p: Path) => string;
}

type Describer = (c: ErrorContext) => Diagnostic | undefined;

function describe(e: ErrorObject, source: Source, what: string): Diagnostic | undefined {
  const path = toPath(e.instancePath);
  const c: ErrorContext = {
    e,
    source,
    what,
    path,
    p: e.params as Record<string, any>,
    where: (x) => whereIn(x, source.data),
  };
  const d = DESCRIBERS[e.keyword];
  return d ? d(c) : diag(source, path, `${c.where(path)} ${e.message ?? 'is invalid'}`);
}

const unknownKey: Describer = ({ e, source, what, path, p, where }) => {
  const known = Object.keys((e.parentSchema as any)?.properties ?? {});
  const key = String(p.additionalProperty);
  const guess = didYouMean(key, known);
  const inWhat = path.length ? where(path) : `the ${what}`;
  const hint = known.length ? `allowed keys: ${known.join(', ')}` : undefined;
  return diag(
    source,
    [...path, key],
    `unknown key "${key}" in ${inWhat}${guess ? `; did you mean "${guess}"?` : ''}`,
    hint,
    { key: true },
  );
};

/** pattern, maxLength, minLength: of a key (propertyNames) or of a value, named by its definition when it has one. */
const badString: Describer = ({ e, source, path, p, where }) => {
  const noun = nounFor(e);
  if (/propertyNames/.test(e.schemaPath)) {
    const name = p.propertyName ?? path[path.length - 1];
    return diag(
      source,
      [...path, String(p.propertyName ?? '')],
      `${show(name)} is not a valid ${noun ?? 'name'}`,
      undefined,
      { key: true },
    );
  }
  if (noun) return diag(source, path, `${where(path)}: ${show(e.data)} is not a valid ${noun}`);
  if (e.keyword === 'pattern' && /\^\[\^\\n\]\+\$/.test(String(p.pattern)))
    return diag(source, path, `${where(path)} must be a single line`);
  const described = (e.parentSchema as { description?: string } | undefined)?.description;
  const why =
    e.keyword === 'maxLength'
      ? `is longer than ${p.limit} characters`
      : e.keyword === 'minLength'
        ? 'must not be empty'
        : described
          ? `is ${show(e.data)}, which is not valid (${described.replace(/\.$/, '')})`
          : `does not match ${p.pattern}`;
  return diag(source, path, `${where(path)} ${why}`);
};

const unknownKind: Describer = ({ e, source, path, p, where }) => {
  const refs: { $ref?: string }[] = (e.parentSchema as any)?.oneOf ?? [];
  const kinds = refs.map((r) => String(r.$ref ?? '').replace(/^#\/definitions\/(step|assert)-/, ''));
  const hint = `known kinds: ${kinds.join(', ')}`;
  if (p.error !== 'mapping') return diag(source, path, `${where(path)} needs a "kind"`, hint);
  const guess = didYouMean(String(p.tagValue), kinds);
  return diag(
    source,
    [...path, 'kind'],
    `unknown kind ${show(p.tagValue)}${guess ? `; did you mean "${guess}"?` : ''}`,
    hint,
  );
};

const DESCRIBERS: Record<string, Describer> = {
  required: ({ source, path, p, where }) =>
    diag(source, path, `${where(path)} is missing the required field "${p.missingProperty}"`),
  additionalProperties: unknownKey,
  // the pattern error that follows says it better
  propertyNames: () => undefined,
  pattern: badString,
  maxLength: badString,
  minLength: badString,
  type: ({ e, source, path, p, where }) =>
    diag(source, path, `${where(path)} must be ${article(String(p.type))}, not ${typeOf(e.data)}`),
  enum: ({ e, source, path, p, where }) =>
    diag(
      source,
      path,
      `${where(path)} is ${show(e.data)}; expected one of: ${(p.allowedValues as unknown[]).map(String).join(', ')}`,
    ),
  const: ({ source, path, p, where }) => diag(source, path, `${where(path)} must be ${show(p.allowedValue)}`),
  format: ({ e, source, path, p, where }) =>
    diag(
      source,
      path,
      `${where(path)}: ${show(e.data)} is not a valid ${p.format === 'ipv4' ? 'IPv4 address' : p.format}`,
    ),
  discriminator: unknownKind,
  minItems: ({ source, path, p, where }) =>
    diag(source, path, `${where(path)} must have at least ${p.limit} item${p.limit === 1 ? '' : 's'}`),
  minProperties: ({ source, path, p, where }) =>
    diag(source, path, `${where(path)} must have at least ${p.limit} entr${p.limit === 1 ? 'y' : 'ies'}`),
  minimum: ({ e, source, path, p, where }) =>
    diag(source, path, `${where(path)} is ${show(e.data)}; must be at least ${p.limit}`),
  maximum: ({ e, source, path, p, where }) =>
    diag(source, path, `${where(path)} is ${show(e.data)}; must be at most ${p.limit}`),
  oneOf: ({ e, source, path, where }) =>
    diag(source, path, `${where(path)} has the wrong form: ${show(e.data)}`, (e.parentSchema as any)?.description),
};

function article(type: string): string {
  const t = type
    .split(',')
    .map((x) => (x === 'object' ? 'a mapping' : x === 'array' ? 'a list' : x === 'integer' ? 'an integer' : `a ${x}`));
  return t.join(' or ');
}
