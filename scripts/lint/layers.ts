// The import-layer rule (npm run lint, CI): each module may import only the layers its row names, and a provider
// backend never imports another. Import cycles are Biome's noImportCycles. dependency-cruiser would be the usual
// tool, but it parses TypeScript through the TypeScript 5 compiler API, which TypeScript 7 (this project's) lacks.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const SRC = 'src';

/** Which group a file belongs to: first match wins. */
const GROUPS: [string, RegExp][] = [
  ['errors', /^errors\.ts$/],
  ['events', /^report\/events\.ts$/],
  ['lab-load', /^lab\/(load|resolve|resolve-topology|schema|lab-schema)\.ts$/],
  ['lab-model', /^lab\//],
  ['transport', /^transport\//],
  ['host', /^host\//],
  ['hypervisor', /^hypervisor\//],
  ['report', /^report\//],
  ['kinds', /^kinds\//],
  ['providers', /^providers\//],
  ['runner', /^runner\//],
  ['cli', /^cli\//],
];

/** What each group may import besides itself: arrows only point down this table. */
const ALLOWED: Record<string, string[]> = {
  errors: [],
  events: [],
  'lab-model': ['errors'],
  transport: ['errors'],
  host: ['errors', 'events', 'transport'],
  hypervisor: ['errors', 'host', 'lab-model', 'transport'],
  report: ['errors', 'events', 'lab-model'],
  kinds: ['errors', 'events', 'host', 'hypervisor', 'lab-model', 'transport'],
  providers: ['errors', 'events', 'host', 'hypervisor', 'lab-model', 'transport'],
  'lab-load': ['errors', 'host', 'lab-model', 'kinds'],
  runner: [
    'errors',
    'events',
    'host',
    'hypervisor',
    'lab-model',
    'lab-load',
    'transport',
    'report',
    'kinds',
    'providers',
  ],
  cli: [
    'errors',
    'events',
    'host',
    'hypervisor',
    'lab-model',
    'lab-load',
    'transport',
    'report',
    'kinds',
    'providers',
    'runner',
  ],
};

function groupOf(rel: string): string {
  const g = GROUPS.find(([, re]) => re.test(rel));
  if (!g) throw new TypeError(`${rel} belongs to no layer: add it to GROUPS in scripts/lint/layers.ts`);
  return g[0];
}

/** providers/<backend>/...: the backend's name, or undefined for the port and the table. */
const backendOf = (rel: string) => /^providers\/([^/]+)\//.exec(rel)?.[1];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

export function violations(root = SRC): string[] {
  const out: string[] = [];
  for (const file of files(root)) {
    const rel = relative(root, file);
    const from = groupOf(rel);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!;
      if (!spec.startsWith('.')) continue;
      const target = relative(root, normalize(join(dirname(file), spec)));
      if (target.startsWith('..')) continue;
      const to = groupOf(target);
      const line = text.slice(0, m.index).split('\n').length + (m[0].startsWith('\n') ? 1 : 0);
      if (to !== from && !ALLOWED[from]!.includes(to))
        out.push(`${file}:${line}: ${from} may not import ${to} (${spec})`);
      const [a, b] = [backendOf(rel), backendOf(target)];
      if (a && b && a !== b) out.push(`${file}:${line}: provider backend ${a} may not import backend ${b} (${spec})`);
    }
  }
  return out;
}

if (process.argv[1]?.endsWith('layers.ts')) {
  const v = violations();
  for (const x of v) console.error(x);
  if (v.length) {
    console.error(`${v.length} import${v.length === 1 ? '' : 's'} against the layers (scripts/lint/layers.ts)`);
    process.exitCode = 1;
  } else console.log('layers: every import points down');
}
