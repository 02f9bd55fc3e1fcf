// README's performance table, written from bench/results.json between two markers: `npm run bench` ends with it,
// `npm run bench:readme` writes it alone. Each row: the figure, the latest bench's value and the target it is held to.
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export const BEGIN = '<!-- bench:table (written by npm run bench from bench/results.json) -->';
export const END = '<!-- /bench:table -->';

interface Row {
  figure: string;
  value: number | undefined;
  unit: string;
  /** the target: the value must be at most this */
  atMost?: number;
}

// results.json as the bench wrote it (any version of it: a figure it lacks is "not measured")
type Results = Record<string, any>;

export function benchRows(r: Results): Row[] {
  return [
    { figure: '`e2e_s`: `virtlab run kvm-macvtap`, median wall time', value: r.e2e_s, unit: 's', atMost: 15 },
    { figure: '`floor_s`: the same lab in plain shell, interleaved', value: r.floor_s, unit: 's' },
    { figure: '`ratio`: e2e / floor', value: r.ratio, unit: '', atMost: 1.05 },
    { figure: "`overhead_s`: virtlab's own time", value: r.overhead_s, unit: 's', atMost: 0.5 },
    {
      figure: '`upload_s`: the upload stage (guest image into a namespace machine)',
      value: r.stages?.upload,
      unit: 's',
      atMost: 0.1,
    },
    { figure: '`ssh_exec_ms`: a trivial command over the Executor', value: r.ssh_exec_ms, unit: 'ms', atMost: 10 },
    {
      figure: `\`scale.leased_s\`: ${r.scale?.guests ?? 16} guests on 4 hypervisors, every lease`,
      value: r.scale?.leased_s,
      unit: 's',
      atMost: 45,
    },
    { figure: '`scale.peak_rss_mb`: everything in the lab', value: r.scale?.peak_rss_mb, unit: 'MB' },
    ...((r.scale_by_guests ?? []) as Results[])
      .filter((x) => x.guests !== 16)
      .map((x) => ({
        figure: `\`scale_by_guests\`: ${x.guests} guest(s) on ${x.hypervisors} hypervisor(s), every lease (peak RSS ${x.peak_rss_mb} MB)`,
        value: x.leased_s,
        unit: 's',
      })),
    { figure: '`scale.teardown_s`', value: r.scale?.teardown_s, unit: 's', atMost: 3 },
    {
      figure: `\`vm.e2e_s\`: kvm-macvtap with kvm-01 a QEMU VM (started from its snapshot)${
        (r.vm?.attempts ?? 1) > 1
          ? `, ${r.vm.attempts} attempts (an earlier one was unstable and run again), the last ${r.vm.last_attempt_s} s`
          : ''
      }`,
      value: r.vm?.e2e_s,
      unit: 's',
      atMost: 40,
    },
    { figure: '`vm.cold_e2e_s`: the same, booting the VM', value: r.vm?.cold_e2e_s, unit: 's' },
    {
      figure: '`vm.machine_up_s.warm`: the VM until SSH and libvirt answer, from its snapshot',
      value: typeof r.vm?.machine_up_s === 'object' ? r.vm.machine_up_s.warm : undefined,
      unit: 's',
      atMost: 8,
    },
    {
      figure: '`vm.machine_up_s.cold`: the same, booting',
      value: typeof r.vm?.machine_up_s === 'object' ? r.vm.machine_up_s.cold : r.vm?.machine_up_s,
      unit: 's',
    },
    { figure: '`dual_stack.e2e_s`: kvm-macvtap-dual', value: r.dual_stack?.e2e_s, unit: 's' },
    { figure: '`host_networks.linux_bridge_e2e_s`', value: r.host_networks?.linux_bridge_e2e_s, unit: 's', atMost: 15 },
    {
      figure: "`throughput.virtlab_mbps`: virtlab's iperf3 check, guest to peer",
      value: r.throughput?.virtlab_mbps,
      unit: 'Mbit/s',
    },
    { figure: '`throughput.floor_mbps`: iperf3 by hand, same setup', value: r.throughput?.floor_mbps, unit: 'Mbit/s' },
  ];
}

function cell(row: Row): [string, string] {
  if (row.value === undefined || row.value === null || Number.isNaN(row.value)) return ['not measured', ''];
  const v = `${row.value}${row.unit ? ` ${row.unit}` : ''}`;
  if (row.atMost === undefined) return [v, ''];
  return [v, `≤ ${row.atMost}${row.unit ? ` ${row.unit}` : ''} ${row.value <= row.atMost ? '✓' : '✗'}`];
}

/** The same rows as plain text for the console (one source of targets for both). */
export function benchLines(r: Results): string[] {
  return benchRows(r).map((row) => {
    const [v, t] = cell(row);
    return `${row.figure.replaceAll('`', '').padEnd(72)} ${v.padStart(14)}  ${t}`;
  });
}

/** The table with a line naming the bench it comes from. */
export function benchTable(r: Results): string {
  const h = r.host ?? {};
  const lines = [
    `Latest bench: ${String(r.when ?? '?').slice(0, 10)}, ${r.runs ?? '?'} interleaved runs, ${h.cpus ?? '?'} CPUs, kernel ${h.kernel ?? '?'}, libvirt ${h.libvirt ?? '?'}, QEMU ${h.qemu ?? '?'}.`,
    '',
    '| figure | latest | target |',
    '|---|---|---|',
    ...benchRows(r).map((row) => {
      const [v, t] = cell(row);
      return `| ${row.figure} | ${v} | ${t} |`;
    }),
  ];
  return lines.join('\n');
}

/** The README with the table between its markers replaced; the markers must be there, once each. */
export function withTable(readme: string, table: string): string {
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  if (a < 0 || b < a || readme.indexOf(BEGIN, a + 1) >= 0)
    throw new Error(`README.md needs the markers ${BEGIN} and ${END}, once each`);
  return `${readme.slice(0, a + BEGIN.length)}\n${table}\n${readme.slice(b)}`;
}

export function writeReadmeTable(results = 'bench/results.json', readme = 'README.md'): void {
  const r = JSON.parse(readFileSync(results, 'utf8'));
  writeFileSync(readme, withTable(readFileSync(readme, 'utf8'), benchTable(r)));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeReadmeTable();
  console.log('README.md: performance table written from bench/results.json');
}
