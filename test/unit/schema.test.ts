// The lab schema is composed from schema/lab.base.json and each kind module's fragment: the committed
// schema/lab.schema.json (what editors and other validators read) must be exactly that.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { parse as parseYaml } from 'yaml';
import { CHECK_KINDS } from '../../src/kinds/checks/index.ts';
import { STEP_KINDS } from '../../src/kinds/steps/index.ts';
import { composeLabSchema, LAB_SCHEMA_FILE, publishedLabSchema } from '../../src/lab/lab-schema.ts';

test('schema/lab.schema.json is what the kinds compose (run npm run schema after changing a kind)', (t) => {
  t.deepEqual(JSON.parse(readFileSync(LAB_SCHEMA_FILE, 'utf8')), publishedLabSchema());
});

test('every step and assertion kind has its definition in the schema, in the table order', (t) => {
  const s = composeLabSchema() as { definitions: Record<string, { oneOf?: { $ref: string }[] }> };
  t.deepEqual(
    s.definitions.step!.oneOf!.map((r) => r.$ref),
    STEP_KINDS.map((k) => `#/definitions/step-${k.kind}`),
  );
  t.deepEqual(
    s.definitions.assertion!.oneOf!.map((r) => r.$ref),
    CHECK_KINDS.map((k) => `#/definitions/assert-${k.kind}`),
  );
});

// Another validator (Python's jsonschema, Draft 7) reads every shipped lab as virtlab's published schema describes
// it: placeholders where a parameter may stand, and the lab read as YAML 1.2 (`on:` is a key, not true).
const PY = `
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
labs = json.load(sys.stdin)
v = jsonschema.Draft7Validator(schema)
print(json.dumps({name: [e.message[:160] for e in v.iter_errors(lab)] for name, lab in labs.items()}))
`;

test('the published schema accepts every shipped lab in an independent validator, and still refuses bad ones', (t) => {
  const labs: Record<string, unknown> = {};
  for (const f of readdirSync('labs').filter((x) => x.endsWith('.yml')))
    labs[f] = parseYaml(readFileSync(join('labs', f), 'utf8'), { version: '1.2' });
  labs['bad-role'] = { description: 'x', machines: { a: { role: 'boss' } }, steps: [], assertions: [{ kind: 'nope' }] };
  const r = spawnSync('/usr/bin/python3', ['-c', PY, LAB_SCHEMA_FILE], {
    input: JSON.stringify(labs),
    encoding: 'utf8',
  });
  t.is(r.status, 0, r.stderr);
  const errors = JSON.parse(r.stdout) as Record<string, string[]>;
  const { 'bad-role': bad, ...shipped } = errors;
  t.true(Object.keys(shipped).length >= 6);
  for (const [name, e] of Object.entries(shipped)) t.deepEqual(e, [], name);
  t.true(bad!.length > 0, 'a lab with a wrong role and an unknown kind is refused');
});
