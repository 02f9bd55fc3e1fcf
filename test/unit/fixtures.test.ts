// Every bad-input fixture must fail validation with exactly its golden message (file:line:col + hint).

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { parse as parseYaml } from 'yaml';
import { formatDiagnostic } from '../../src/errors.ts';
import { validate } from '../../src/lab/load.ts';
import { compileFresh, precompiled, writePrecompiled } from '../../src/lab/schema.ts';

const dir = 'test/fixtures/bad';
const fixtures = [
  ...readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .map((f) => join(dir, f)),
  join(dir, 'machines-bad', 'machines.yml'),
  ...readdirSync(join(dir, 'playbooks'))
    .filter((f) => f.endsWith('.yml'))
    .map((f) => join(dir, 'playbooks', f)),
];

test('there are at least 50 bad-input fixtures', (t) => {
  t.true(fixtures.length >= 50, `only ${fixtures.length}`);
});

for (const f of fixtures) {
  test(`golden: ${f}`, (t) => {
    const { diagnostics } = validate([f]);
    t.true(diagnostics.length > 0, 'a bad fixture must produce at least one problem');
    for (const d of diagnostics) t.true(d.line >= 1 && d.col >= 1);
    const actual = `${diagnostics.map(formatDiagnostic).join('\n')}\n`;
    const golden = f.replace(/\.yml$/, '.expected');
    if (process.env.UPDATE_GOLDEN || !existsSync(golden)) writeFileSync(golden, actual);
    t.is(actual, readFileSync(golden, 'utf8'));
  });
}

test("the CLI exits 2 and prints every fixture's problems at once", (t) => {
  const r = spawnSync('npx', ['tsx', 'src/cli/main.ts', 'validate', ...fixtures], { encoding: 'utf8' });
  t.is(r.status, 2);
  for (const f of fixtures) {
    const first = readFileSync(f.replace(/\.yml$/, '.expected'), 'utf8').split('\n')[0]!;
    t.true(r.stderr.includes(first), `missing: ${first}`);
  }
  t.regex(r.stderr, /\d+ problems in \d+ files/);
});

test("the project's own labs, machines.yml and playbooks are valid", (t) => {
  const out = execFileSync('npx', ['tsx', 'src/cli/main.ts', 'validate'], { encoding: 'utf8' });
  t.regex(out, /ok {2}labs\/kvm-macvtap\.yml/);
  t.regex(out, /ok {2}machines\.yml/);
  t.regex(out, /ok {2}playbooks\/provision\.yml/);
});

test('the precompiled validators (npm run build) judge every fixture and every project file exactly as compiling does', (t) => {
  // inside the project (node_modules need not be writable): the generated code requires ajv's runtime from there
  const cache = mkdtempSync('.validators-');
  t.teardown(() => rmSync(cache, { recursive: true, force: true }));
  const file = join(process.cwd(), cache, 'validators.cjs');
  writePrecompiled(file);
  const pre = precompiled(file)!;
  const fresh = compileFresh();
  const files = [
    ...fixtures,
    'machines.yml',
    ...readdirSync('labs')
      .filter((f) => f.endsWith('.yml'))
      .map((f) => join('labs', f)),
    ...readdirSync('playbooks')
      .filter((f) => f.endsWith('.yml'))
      .map((f) => join('playbooks', f)),
  ];
  let compared = 0;
  for (const f of files) {
    let data: unknown;
    try {
      data = parseYaml(readFileSync(f, 'utf8'));
    } catch {
      continue; // not YAML: it never reaches a validator
    }
    const n = f.endsWith('machines.yml') ? 'machines' : f.includes('playbooks/') ? 'playbook' : 'lab';
    const a = fresh[n](data);
    const b = pre[n](data);
    t.is(b, a, f);
    t.deepEqual(
      JSON.parse(JSON.stringify(pre[n].errors ?? null)),
      JSON.parse(JSON.stringify(fresh[n].errors ?? null)),
      f,
    );
    compared++;
  }
  t.true(compared > 50, `compared ${compared}`);
  // a schema newer than the precompiled file makes it stale: the validators are compiled again
  utimesSync(file, new Date(0), new Date(0));
  t.is(precompiled(file), undefined);
});
