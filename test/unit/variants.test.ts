// What a lab file declares for its variants, parameters and per-student values: read from the top-level keys.
import test from 'ava';
import { readVariantInfo } from '../../src/lab/variants.ts';

test('parameters, variants and exercise.vary are read; a lab without them is empty; quoted and flow keys count', (t) => {
  const lab = `description: x
parameters:
  mode: bridge
variants:
  vepa: { mode: vepa }
exercise:
  vary:
    subnet: [10, 20]
machines: []
`;
  t.deepEqual(readVariantInfo(lab), {
    defaults: { mode: 'bridge' },
    variants: { vepa: { mode: 'vepa' } },
    vary: { subnet: ['10', '20'] },
  });
  t.deepEqual(readVariantInfo('description: x\nmachines: []\nsteps:\n  - parameters: 1\n'), {
    defaults: {},
    variants: {},
    vary: {},
  });
  t.deepEqual(readVariantInfo('"parameters":\n  a: 1\n').defaults, { a: '1' });
  t.deepEqual(readVariantInfo('{parameters: {a: 2}, machines: []}\n').defaults, { a: '2' });
});
