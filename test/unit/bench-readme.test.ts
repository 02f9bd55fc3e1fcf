// README's performance table, written from bench/results.json: values, targets met or not, figures a bench left out.
import test from 'ava';
import { BEGIN, benchTable, END, withTable } from '../../bench/readme.ts';

const results = {
  when: '2026-12-02T16:46:39.512Z',
  runs: 2,
  e2e_s: 6.79,
  floor_s: 6.04,
  ratio: 1.12,
  overhead_s: 0.45,
  stages: { upload: 0.05 },
  scale: { guests: 16, leased_s: 46.1 },
  host: { cpus: 2, kernel: '6.18', libvirt: '9.0.0', qemu: '7.2.22' },
};

test('each figure with its target, met or not; a figure the bench did not measure says so', (t) => {
  const table = benchTable(results);
  t.regex(
    table,
    /^Latest bench: 2026-12-02, 2 interleaved runs, 2 CPUs, kernel 6\.18, libvirt 9\.0\.0, QEMU 7\.2\.22\.$/m,
  );
  t.regex(table, /^\| `ratio`: e2e \/ floor \| 1\.12 \| ≤ 1\.05 ✗ \|$/m);
  t.regex(table, /^\| `overhead_s`: virtlab's own time \| 0\.45 s \| ≤ 0\.5 s ✓ \|$/m);
  t.regex(table, /^\| `scale\.leased_s`: 16 guests on 4 hypervisors, every lease \| 46\.1 s \| ≤ 45 s ✗ \|$/m);
  t.regex(table, /^\| `vm\.machine_up_s`: .* \| not measured \| {2}\|$/m);
});

test('the table goes between the markers, replacing the one there; without the markers nothing is written', (t) => {
  const readme = `# x\n\n${BEGIN}\nold table\n${END}\n\nafter\n`;
  const out = withTable(readme, 'new table');
  t.is(out, `# x\n\n${BEGIN}\nnew table\n${END}\n\nafter\n`);
  t.is(withTable(out, 'new table'), out, 'writing it again changes nothing');
  t.throws(() => withTable('# no markers\n', 'x'), { message: /needs the markers/ });
  t.throws(() => withTable(`${BEGIN}\n${END}\n${BEGIN}\n`, 'x'), { message: /once each/ });
});
