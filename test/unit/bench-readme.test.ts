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
  t.regex(table, /^\| `vm\.machine_up_s\.warm`: .* \| not measured \| {2}\|$/m);
});

test('the scale rows follow the number of guests; warm and cold VM figures apart (an older results.json: cold only)', (t) => {
  const table = benchTable({
    ...results,
    scale_by_guests: [
      { guests: 1, hypervisors: 1, leased_s: 6.2, peak_rss_mb: 700 },
      { guests: 16, hypervisors: 4, leased_s: 46.1, peak_rss_mb: 3700 },
      { guests: 32, hypervisors: 8, leased_s: 95.5, peak_rss_mb: 7000 },
    ],
    vm: { e2e_s: 34, cold_e2e_s: 58, machine_up_s: { cold: 23.1, warm: 6.9 } },
  });
  t.regex(
    table,
    /^\| `scale_by_guests`: 1 guest\(s\) on 1 hypervisor\(s\), every lease \(peak RSS 700 MB\) \| 6\.2 s \| {2}\|$/m,
  );
  t.regex(table, /^\| `scale_by_guests`: 32 guest\(s\) on 8 hypervisor\(s\), .* \| 95\.5 s \| {2}\|$/m);
  t.notRegex(table, /`scale_by_guests`: 16/, 'the 16-guest figure is the scale row with its target');
  t.regex(table, /^\| `vm\.machine_up_s\.warm`: .* \| 6\.9 s \| ≤ 8 s ✓ \|$/m);
  t.regex(table, /^\| `vm\.machine_up_s\.cold`: .* \| 23\.1 s \| {2}\|$/m);
  t.regex(table, /^\| `vm\.e2e_s`: .* \| 34 s \| ≤ 40 s ✓ \|$/m);
  const older = benchTable({ ...results, vm: { e2e_s: 65, machine_up_s: 22.6 } });
  t.regex(older, /^\| `vm\.machine_up_s\.cold`: .* \| 22\.6 s \| {2}\|$/m);
});

test('the table goes between the markers, replacing the one there; without the markers nothing is written', (t) => {
  const readme = `# x\n\n${BEGIN}\nold table\n${END}\n\nafter\n`;
  const out = withTable(readme, 'new table');
  t.is(out, `# x\n\n${BEGIN}\nnew table\n${END}\n\nafter\n`);
  t.is(withTable(out, 'new table'), out, 'writing it again changes nothing');
  t.throws(() => withTable('# no markers\n', 'x'), { message: /needs the markers/ });
  t.throws(() => withTable(`${BEGIN}\n${END}\n${BEGIN}\n`, 'x'), { message: /once each/ });
});
