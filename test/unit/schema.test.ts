// The lab schema is composed from schema/lab.base.json and each kind module's fragment: the committed
// schema/lab.schema.json (what editors and other validators read) must be exactly that.

import { readFileSync } from 'node:fs';
import test from 'ava';
import { CHECK_KINDS } from '../../src/kinds/checks/index.ts';
import { STEP_KINDS } from '../../src/kinds/steps/index.ts';
import { composeLabSchema, LAB_SCHEMA_FILE } from '../../src/lab/lab-schema.ts';

test('schema/lab.schema.json is what the kinds compose (run npm run schema after changing a kind)', (t) => {
  t.deepEqual(JSON.parse(readFileSync(LAB_SCHEMA_FILE, 'utf8')), composeLabSchema());
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
