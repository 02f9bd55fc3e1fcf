// Finding and loading labs, machines.yml and playbooks; every problem comes back at once as diagnostics.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { DefinitionError, type Diagnostic, UsageError } from '../errors.ts';
import { readConfig } from '../host/config.ts';
import { COMPILED, PACKAGE_ROOT } from '../host/package-root.ts';
import { type Catalogue, duplicateNames, normaliseCatalogue } from './catalogue.ts';
import type { Lab } from './model.ts';
import { readPlaybook } from './playbook.ts';
import { resolveLab } from './resolve.ts';
import { resolvedLab } from './resolved-cache.ts';
import { compileSchemas, type SchemaName, validateAgainst } from './schema.ts';
import { diag, pathExists, readSource, readTextFile, type Source, statPath, type Transform } from './source.ts';
import { didYouMean } from './suggest.ts';
import { paramsFor, readVariantInfo, render, type VariantInfo, variedParams } from './variants.ts';

/** The folder virtlab is installed in: its own labs are examples every project can run. */
export const packageRoot = (): string => PACKAGE_ROOT;

/**
 * The project folder (labs/, machines.yml, playbooks/): --project or VIRTLAB_ROOT, else the current folder when it
 * holds labs/, else the package's own.
 */
export function projectRoot(cwd = process.cwd()): string {
  const set = readConfig().root;
  if (set) return resolvePath(set);
  if (existsSync(join(cwd, 'labs'))) return cwd;
  return packageRoot();
}

/** The project a lab file belongs to: <project>/labs/<lab>.yml; else the current project. */
export function rootOf(labFile: string): string {
  const up = dirname(dirname(labFile));
  if (basename(dirname(labFile)) === 'labs' && existsSync(join(up, 'machines.yml'))) return up;
  return projectRoot();
}

export const labsDir = (root = projectRoot()) => join(root, 'labs');

/** A lab reference is a name under the project's labs/ (or the package's, as examples) or a path to a .yml file. */
export function labPath(ref: string, root = projectRoot()): string {
  if (ref.includes('/') || ref.endsWith('.yml') || ref.endsWith('.yaml')) return resolvePath(ref);
  for (const r of [root, packageRoot()]) {
    const p = join(labsDir(r), `${ref}.yml`);
    if (existsSync(p)) return p;
  }
  const known = [...new Set([...listLabNames(root), ...listLabNames(packageRoot())])];
  const guess = didYouMean(ref, known);
  throw new UsageError(
    `no lab named "${ref}"${guess ? `; did you mean "${guess}"?` : ''}`,
    `known labs: ${known.join(', ') || '(none)'}; or give a path to a .yml file`,
  );
}

export function listLabNames(root = projectRoot()): string[] {
  if (!existsSync(labsDir(root))) return [];
  return readdirSync(labsDir(root))
    .filter((f) => f.endsWith('.yml'))
    .map((f) => basename(f, '.yml'))
    .sort();
}

type Validators = ReturnType<typeof compileSchemas>;

function loadValidated(
  path: string,
  schema: SchemaName,
  v: Validators,
  what: string,
  transform?: Transform,
): { source?: Source; diagnostics: Diagnostic[] } {
  // Ansible playbooks and Vagrant's machines.yml are YAML 1.1 (yes/no are booleans); labs are YAML 1.2
  const { source, diagnostics } = readSource(path, schema === 'lab' ? '1.2' : '1.1', transform);
  if (!source) return { diagnostics };
  if (
    source.data === null ||
    typeof source.data !== 'object' ||
    (schema === 'lab' && Array.isArray(source.data)) ||
    (schema === 'playbook' && !Array.isArray(source.data))
  ) {
    return {
      diagnostics: [
        diag(
          source,
          [],
          `this is not a ${what} (expected ${schema === 'lab' ? 'a mapping with description, machines, steps and assertions' : schema === 'machines' ? 'a list of machines or a "machines:" mapping' : 'a list of plays'})`,
        ),
      ],
    };
  }
  const d = validateAgainst(v[schema], source, what);
  if (schema === 'machines' && !d.length) {
    for (const dup of duplicateNames(source)) d.push(diag(source, dup.path, `duplicate machine name "${dup.name}"`));
  }
  return { source: d.length ? undefined : source, diagnostics: d };
}

export function catalogueFor(
  labFile: string,
  root: string,
  v: Validators,
): { catalogue?: Catalogue; diagnostics: Diagnostic[] } {
  // a lab outside the project may bring its own machines.yml beside it
  const beside = join(dirname(labFile), 'machines.yml');
  const path = pathExists(beside) && dirname(labFile) !== labsDir(root) ? beside : join(root, 'machines.yml');
  const { source, diagnostics } = loadValidated(path, 'machines', v, 'machine catalogue');
  return { catalogue: source ? normaliseCatalogue(source) : undefined, diagnostics };
}

export function variantsOf(labFile: string): VariantInfo {
  const text = readTextFile(labFile);
  return text === undefined ? { defaults: {}, variants: {}, vary: {} } : readVariantInfo(text);
}

function resolveFile(
  labFile: string,
  root: string,
  v: Validators,
  variant?: string,
  overrides: Record<string, string> = {},
): { lab?: Lab; diagnostics: Diagnostic[] } {
  const info = variantsOf(labFile);
  if (variant !== undefined && !(variant in info.variants)) {
    const names = Object.keys(info.variants);
    throw new UsageError(
      `lab ${basename(labFile, '.yml')} has no variant "${variant}"`,
      names.length ? `its variants: ${names.join(', ')}` : 'it declares no variants',
    );
  }
  const params = { ...paramsFor(info, variant), ...overrides };
  const lab = loadValidated(labFile, 'lab', v, 'lab', (text, file) => render(text, params, file));
  const cat = catalogueFor(labFile, root, v);
  if (!lab.source || !cat.catalogue) return { diagnostics: [...lab.diagnostics, ...cat.diagnostics] };
  return resolveLab({
    source: lab.source,
    catalogue: cat.catalogue,
    playbookDir: join(root, 'playbooks'),
    readFile: (p) => {
      const text = readTextFile(p);
      return text === undefined ? undefined : render(text, params, p).text;
    },
    stat: statPath,
    params,
    variant,
    variants: Object.keys(info.variants),
  });
}

/** Loads and resolves one lab or throws DefinitionError with every problem. */
export function loadLab(ref: string, root?: string, variant?: string, params?: Record<string, string>): Lab {
  const file = labPath(ref, root ?? projectRoot());
  const at = root ?? rootOf(file);
  const { lab, diagnostics } = resolvedLab(labCacheDir(), labCacheKey(file, at, variant, params), () =>
    resolveLabFile(file, at, variant, params),
  );
  if (!lab) throw new DefinitionError(diagnostics);
  return lab;
}

/** One lab file resolved now (loadLab keeps the result: lab/resolved-cache.ts). */
export function resolveLabFile(file: string, root: string, variant?: string, params?: Record<string, string>) {
  return resolveFile(file, root, compileSchemas(), variant, params);
}

/** Where resolved labs are kept: only by a compiled virtlab (run from its sources, every command resolves anew). */
function labCacheDir(): string | undefined {
  return COMPILED ? join(readConfig().cache, 'labs') : undefined;
}

/** Everything besides the files that decides what a lab resolves to. */
function labCacheKey(file: string, root: string, variant?: string, params?: Record<string, string>): object {
  let build = '';
  try {
    // the running virtlab (the bundle or a compiled module) and the build's stamp: a rebuild is another virtlab
    const self = fileURLToPath(import.meta.url);
    build = `${self}:${statSync(self).mtimeMs}:${statSync(join(PACKAGE_ROOT, 'dist', '.stamp'), { throwIfNoEntry: false })?.mtimeMs}`;
  } catch {
    /* no build to name: the key still differs per file and folder */
  }
  const env = Object.entries(process.env)
    .filter(([k]) => k.startsWith('VIRTLAB_'))
    .sort();
  return { build, node: process.version, cwd: process.cwd(), file, root, variant, params, env };
}

/** The lab of an instance that is up, as it was rendered for it (its variant, a student's parameters). */
export function instanceLab(s: { labFile: string; variant?: string; params?: Record<string, string> }): Lab {
  return loadLab(s.labFile, undefined, s.variant, s.params);
}

/** A student's parameter values for an instance of a lab whose exercise varies them (none for the lab's own). */
export function studentParams(lab: Lab, instance: string): Record<string, string> {
  // most labs vary nothing: their file is not read again (a YAML parse of ~7 ms at every start)
  if (instance === lab.name || !lab.exercise?.vary) return {};
  return variedParams(variantsOf(lab.file).vary, instance);
}

export function listPlaybooks(root = projectRoot()): string[] {
  const dir = join(root, 'playbooks');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => ['.yml', '.yaml'].includes(extname(f)))
    .sort()
    .map((f) => join(dir, f));
}

/**
 * Validates labs, machines.yml and playbooks. With no refs: everything in the project.
 * A ref may be a lab name, a lab file, machines.yml or a playbook file.
 */
export function validate(refs: string[], root = projectRoot()): { checked: string[]; diagnostics: Diagnostic[] } {
  const v = compileSchemas();
  const diagnostics: Diagnostic[] = [];
  const checked: string[] = [];
  const add = (file: string, d: Diagnostic[]) => {
    if (!checked.includes(file)) checked.push(file);
    for (const x of d)
      if (!diagnostics.some((y) => y.file === x.file && y.line === x.line && y.message === x.message))
        diagnostics.push(x);
  };
  const targets = refs.length
    ? refs
    : [
        ...listLabNames(root).map((n) => join(labsDir(root), `${n}.yml`)),
        join(root, 'machines.yml'),
        ...listPlaybooks(root),
      ];
  for (const t of targets) {
    const path = t.includes('/') || /\.ya?ml$/.test(t) ? resolvePath(t) : labPath(t, root);
    const kind = classify(path, root);
    if (kind === 'lab') {
      const labRoot = dirname(path) === labsDir(root) ? root : rootOf(path);
      const base = resolveFile(path, labRoot, v).diagnostics;
      add(path, base);
      // a variant's own problems, not the ones every rendering of the lab has
      const same = (d: Diagnostic) => base.some((b) => b.line === d.line && b.col === d.col && b.message === d.message);
      for (const name of Object.keys(variantsOf(path).variants)) {
        const own = resolveFile(path, labRoot, v, name).diagnostics.filter((d) => !same(d));
        add(
          path,
          own.map((d) => ({ ...d, message: `variant ${name}: ${d.message}` })),
        );
      }
      // every value a student may draw must make a valid lab too
      for (const [k, values] of Object.entries(variantsOf(path).vary))
        for (const value of values) {
          const own = resolveFile(path, labRoot, v, undefined, { [k]: value }).diagnostics.filter((d) => !same(d));
          add(
            path,
            own.map((d) => ({ ...d, message: `with ${k}=${value} (exercise.vary): ${d.message}` })),
          );
        }
    } else if (kind === 'playbook') add(path, readPlaybook(path).diagnostics);
    else add(path, loadValidated(path, kind, v, 'machine catalogue').diagnostics);
  }
  return { checked, diagnostics };
}

/**
 * What a YAML file is, by its content wherever it lives: a list of plays (hosts:) is a playbook, a list of machines
 * (box, ram, ip_addr) or a lone `machines:` mapping is a catalogue, anything else a lab. Where the content cannot
 * be read, its place decides (machines.yml, a playbooks/ folder).
 */
export function classify(path: string, root: string): SchemaName {
  const byPlace = (): SchemaName =>
    basename(path) === 'machines.yml'
      ? 'machines'
      : dirname(path) === join(root, 'playbooks') || /(^|\/)playbooks\//.test(path)
        ? 'playbook'
        : 'lab';
  let data: unknown;
  try {
    const text = readTextFile(path);
    if (text === undefined) return byPlace();
    data = parseYaml(text, { version: '1.1', maxAliasCount: 100 });
  } catch {
    return byPlace();
  }
  const maps = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (Array.isArray(data) && data.length && data.every(maps)) {
    if (data.some((p) => 'hosts' in p || 'tasks' in p || 'roles' in p || 'import_playbook' in p)) return 'playbook';
    if (data.every((m) => 'name' in m && ('box' in m || 'ram' in m || 'ip_addr' in m || 'vcpu' in m)))
      return 'machines';
  }
  if (maps(data) && Object.keys(data).every((k) => k === 'machines') && maps(data.machines)) return 'machines';
  return byPlace();
}
