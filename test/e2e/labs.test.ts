// The other classic labs, end to end on real components, each expected failure exercised.
import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leftovers, orphanNamespaceProcesses, virtlab } from '../helpers/host.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'virtlab-labs-'));
const report = (dir: string) => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));

test.serial('macvtap-modes: every mode x hairpin variant matches the measured table', (t) => {
  const dir = tmp();
  const r = virtlab(['run', 'macvtap-modes', '--name', 'e2e-modes', '--report-dir', dir], { timeoutMs: 600000 });
  t.is(r.code, 0, r.out);
  t.regex(r.stdout, /macvtap-modes: 6 variants/);
  const expected: Record<string, { g2g: string; host: string }> = {
    bridge: { g2g: 'pass', host: 'fail' }, 'bridge-hairpin': { g2g: 'pass', host: 'pass' },
    vepa: { g2g: 'fail', host: 'fail' }, 'vepa-hairpin': { g2g: 'pass', host: 'pass' },
    private: { g2g: 'fail', host: 'fail' }, 'private-hairpin': { g2g: 'fail', host: 'pass' },
  };
  for (const [variant, e] of Object.entries(expected)) {
    const rep = report(join(dir, variant));
    t.is(rep.result, 'pass', variant);
    const cells = rep.assertions[0].cells as { from: string; to: string; observed: string; status: string }[];
    t.is(cells.length, 7);
    const obs = (f: string, to: string) => cells.find((c) => c.from === f && c.to === to)!.observed;
    // observed outcomes, not only "as expected"
    t.is(obs('guest1', 'guest2'), e.g2g, `${variant} guest1 -> guest2`);
    t.is(obs('guest2', 'guest1'), e.g2g, `${variant} guest2 -> guest1`);
    t.is(obs('kvm-01', 'guest1'), e.host, `${variant} kvm-01 -> guest1`);
    t.is(obs('remote-01', 'guest2'), 'pass', `${variant} remote-01 -> guest2`);
    t.regex(readFileSync(join(dir, variant, 'junit.xml'), 'utf8'), /tests="7" failures="0"/);
    t.deepEqual(leftovers('e2e-modes', rep.runId), []);
  }
  t.deepEqual(orphanNamespaceProcesses(), []);
});
