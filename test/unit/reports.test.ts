// The report writers against golden files (test/fixtures/golden/): junit.xml, TAP, report.json, the HTML's
// structure, the console reporter, the matrix and diff. UPDATE_GOLDEN=1 rewrites them after a deliberate change.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { loadLab } from '../../src/lab/load.ts';
import { createConsoleReporter } from '../../src/report/console.ts';
import type { AssertionResult, RunEvent } from '../../src/report/events.ts';
import { htmlReport } from '../../src/report/html.ts';
import { junitXml } from '../../src/report/junit.ts';
import { diffReports, diffText, matrixJson, matrixJunit, matrixMarkdown, matrixText } from '../../src/report/matrix.ts';
import type { RunReport } from '../../src/report/run-report.ts';
import { tapReport } from '../../src/report/tap.ts';
import { writeReports } from '../../src/runner/report-files.ts';
import { traceLine } from '../../src/runner/trace.ts';

const GOLDEN = 'test/fixtures/golden';

function golden(t: { is: (a: unknown, b: unknown, m?: string) => void }, name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN || !existsSync(file)) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
  }
  t.is(actual, readFileSync(file, 'utf8'), `${file} (UPDATE_GOLDEN=1 rewrites it)`);
}

const ev = (machine: string, argv: string[], exitCode: number, stdout: string) => ({ machine, argv, exitCode, stdout });

const RESULTS: AssertionResult[] = [
  {
    id: 'lease',
    kind: 'lease',
    title: 'guest cirros holds a DHCP lease',
    expect: 'pass',
    observed: 'pass',
    status: 'pass',
    reason: '52:54:00:ff:55:d1 holds 192.168.100.183 from the DHCP server of lan',
    durationMs: 3,
    points: 2,
    evidence: [
      ev('network lan (dnsmasq)', ['cat', 'leases'], 0, '1795708240 52:54:00:ff:55:d1 192.168.100.183 cirros *\n'),
    ],
  },
  {
    id: 'ping-remote',
    kind: 'ping',
    title: 'remote-01 can ping cirros',
    expect: 'pass',
    observed: 'fail',
    status: 'fail',
    reason: '0/1 replies from 192.168.100.183',
    hint: 'Check step `promisc` <and> "quotes" & that the guest holds a lease.',
    durationMs: 1012,
    points: 3,
    edge: { from: 'remote-01', to: 'cirros' },
    evidence: [
      ev(
        'remote-01',
        ['ping', '-c', '1', '-W', '1', '192.168.100.183'],
        1,
        '1 packets transmitted, 0 received, 100% packet loss\n',
      ),
    ],
  },
  {
    id: 'ping-host',
    kind: 'ping',
    title: 'kvm-01 can ping cirros (expected to fail)',
    expect: 'fail',
    observed: 'fail',
    status: 'pass',
    reason: 'fails as expected: 0/1 replies from 192.168.100.183',
    durationMs: 1005,
    points: 1,
    evidence: [],
    edge: { from: 'kvm-01', to: 'cirros' },
  },
  {
    id: 'mac-match',
    kind: 'mac-match',
    title: "cirros's MAC equals its host-side device's MAC",
    expect: 'pass',
    observed: 'fail',
    status: 'fail',
    reason: 'cannot check: guest cirros holds no lease',
    durationMs: 20,
    points: 1,
    evidence: [],
  },
  {
    id: 'grid',
    kind: 'reachability',
    title: 'reachability grid (2 pairs: remote-01 -> ...)',
    expect: 'pass',
    observed: 'fail',
    status: 'fail',
    reason: '1/2 pairs as expected; remote-01 -> kvm-01: expected fail, 1/1 replies from 192.168.100.101',
    durationMs: 1100,
    points: 1,
    evidence: [
      ev('remote-01', ['ping', '-c', '1', '-W', '1', '192.168.100.101'], 0, '1 packets transmitted, 1 received\n'),
    ],
    cells: [
      {
        from: 'remote-01',
        to: 'cirros',
        expect: 'pass',
        observed: 'pass',
        status: 'pass',
        reason: '1/1 replies from 192.168.100.183',
      },
      {
        from: 'remote-01',
        to: 'kvm-01',
        expect: 'fail',
        observed: 'pass',
        status: 'fail',
        reason: '1/1 replies from 192.168.100.101',
      },
    ],
  },
];

const REPORT: RunReport = {
  lab: 'kvm-macvtap',
  description: 'Nested KVM host with a libvirt macvtap network',
  instance: 'alice',
  runId: 'abc123',
  provider: 'netns',
  result: 'fail',
  exitCode: 1,
  startedAt: '2026-12-02T10:00:00.000Z',
  durationMs: 11234,
  stages: {
    preflight: 120,
    up: 1800,
    provision: 300,
    upload: 60,
    setup: 900,
    ready: 4900,
    assert: 1300,
    collect: 200,
    teardown: 400,
  },
  steps: [
    {
      stage: 'setup',
      id: 'promisc',
      title: 'promiscuous mode on for eth1 on kvm-01',
      status: 'skipped',
      durationMs: 0,
      detail: 'skipped with --skip',
    },
    {
      stage: 'setup',
      id: 'guest',
      title: 'launch guest "cirros"',
      status: 'changed',
      durationMs: 700,
      detail: 'mac 52:54:00:ff:55:d1',
    },
    {
      stage: 'ready',
      id: 'ready-cirros',
      title: 'cirros ready (lease + ready line on its console)',
      status: 'ok',
      durationMs: 4800,
      detail: '192.168.100.183, 52:54:00:ff:55:d1',
    },
  ],
  assertions: RESULTS,
  machines: [
    {
      name: 'kvm-01',
      role: 'hypervisor',
      ram: 2048,
      vcpu: 2,
      kernel: '6.1.0-57-cloud-amd64',
      distribution: 'Debian GNU/Linux 12 (bookworm)',
      libvirt: '9.0.0',
      qemu: '7.2.22',
      packages: {
        'libvirt-daemon': '9.0.0-4+deb12u2',
        'qemu-system-x86': '1:7.2+dfsg-7+deb12u18+b3',
        iptables: '1.8.9-2',
      },
      kind: 'namespace',
      guests: 'TCG',
    },
    { name: 'remote-01', role: 'peer', ram: 512, vcpu: 1, kind: 'namespace' },
  ],
  images: [{ ref: 'cirros', source: 'virtlab test guest (Debian cloud kernel + busybox)' }],
  files: [],
  score: { points: 3, max: 8 },
  timing: { commandMs: 5000, waitMs: 4900, overheadMs: 1334 },
};

test('junit.xml: one testcase per assertion and per grid cell, failures with reason, hint and evidence', (t) => {
  const xml = junitXml('alice', RESULTS, 11234, undefined);
  golden(t, 'junit.xml', xml);
  t.regex(xml, /tests="6" failures="3"/);
  t.notRegex(xml, /<and>/, 'hints are escaped');
});

test('junit.xml of a run that ended in an error carries it as one more testcase', (t) => {
  golden(
    t,
    'junit-error.xml',
    junitXml('alice', RESULTS.slice(0, 1), 500, 'stage setup: step net-define: define network "x" on kvm-01: exit 1'),
  );
});

test('TAP: one test point per assertion and grid cell', (t) => {
  const tap = tapReport(RESULTS);
  golden(t, 'report.tap', tap);
  t.regex(tap, /^1\.\.6$/m);
});

test('report.json is the report as it is, and writeReports says which files it wrote', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-reports-'));
  const lab = loadLab('kvm-macvtap');
  const files = writeReports(dir, REPORT, lab, ['json', 'junit', 'tap', 'html']);
  t.deepEqual(files.map((f) => f.slice(dir.length + 1)).sort(), [
    'junit.xml',
    'report.html',
    'report.json',
    'report.tap',
  ]);
  golden(t, 'report.json', readFileSync(join(dir, 'report.json'), 'utf8'));
});

test('report.html: self-contained, with the topology, every assertion, the grid, stages and versions', (t) => {
  const html = htmlReport({ ...REPORT, lab: loadLab('kvm-macvtap'), reportDir: '/tmp/r', stages: REPORT.stages });
  t.notRegex(html, /<(script|link|img)[^>]+(src|href)="https?:/, 'no network fetches');
  t.regex(html, /<svg[^>]*>/);
  for (const id of ['verdict', 'assertions', 'stages', 'versions', 'files']) t.regex(html, new RegExp(`id="${id}"`));
  for (const r of RESULTS) t.regex(html, new RegExp(`id="assert-${r.id}"`));
  t.regex(html, /class="grid"/);
  t.regex(html, /kvm-01.*9\.0\.0.*7\.2\.22/s);
  t.notRegex(html, /<and>/, 'hints are escaped');
  t.regex(html, /hint: Check step <code>promisc<\/code> &lt;and&gt;/, 'backticks in hints are code');
  // failures first, then what could not be checked (drawn apart from failures), then what held
  const order = [...html.matchAll(/<tr class="a-(\w+)" id="assert-([\w-]+)"/g)].map((m) => `${m[1]} ${m[2]}`);
  t.deepEqual(order, ['fail ping-remote', 'fail grid', 'inconclusive mac-match', 'pass lease', 'pass ping-host']);
  t.regex(html, /\? could not check/);
  // the steps, a skipped one marked; the guest's address from its ready step on the topology
  t.regex(html, /<tr class="s-skipped"><td>setup<\/td><td class="status">skipped<\/td>/);
  t.regex(html, /192\.168\.100\.183, 52:54:00:ff:55:d1/);
  // the structure, without the SVG's coordinates: headings and the ids of its parts
  const outline = [...html.matchAll(/<(h[12])[^>]*>(.*?)<\/\1>|id="([^"]+)"/g)].map((m) =>
    m[3] ? `#${m[3]}` : `${m[1]} ${m[2]!.replace(/<[^>]+>/g, '')}`,
  );
  golden(t, 'report-html.outline', `${outline.join('\n')}\n`);
});

test('console reporter: a run as a person reads it, without colours or a terminal', (t) => {
  let out = '';
  const emit = createConsoleReporter({ color: false, tty: false, verbose: false, write: (s) => (out += s) });
  const events: RunEvent[] = [
    { type: 'run-start', lab: 'kvm-macvtap', instance: 'alice', runId: 'abc123', runDir: '/x', provider: 'netns' },
    { type: 'stage-start', stage: 'setup' },
    { type: 'step-start', stage: 'setup', id: 'promisc', title: 'promiscuous mode on for eth1 on kvm-01' },
    {
      type: 'step-end',
      stage: 'setup',
      id: 'promisc',
      status: 'skipped',
      durationMs: 0,
      detail: 'skipped with --skip',
    },
    { type: 'stage-end', stage: 'setup', durationMs: 900, ok: true },
    { type: 'stage-start', stage: 'assert' },
    ...RESULTS.map((result): RunEvent => ({ type: 'assertion', result })),
    { type: 'removed', what: 'namespace x', ok: false, detail: 'busy' },
    { type: 'run-end', result: 'fail', exitCode: 1, durationMs: 11234, reportDir: '/x' },
  ];
  for (const e of events) emit(e);
  golden(t, 'console.txt', out);
});

test('matrix and diff: tables, JSON and junit across targets, flipped assertions and versions', (t) => {
  const passing: RunReport = {
    ...REPORT,
    result: 'pass',
    assertions: RESULTS.map((r) => ({ ...r, status: 'pass' as const })),
  };
  const newer: RunReport = {
    ...REPORT,
    machines: REPORT.machines.map((m) =>
      m.kernel
        ? {
            ...m,
            kernel: '6.12.57-cloud-amd64',
            packages: { ...m.packages, iptables: '1.8.11-2', nftables: '1.1.3-1' },
          }
        : m,
    ),
  };
  const cols = [
    { target: 'k61', report: passing },
    { target: 'k612', report: newer },
    { target: 'broken', error: 'the host is not ready' },
  ];
  golden(t, 'matrix.md', matrixMarkdown('kvm-macvtap', cols));
  golden(t, 'matrix.txt', matrixText('kvm-macvtap', cols));
  golden(t, 'matrix.json', `${JSON.stringify(matrixJson('kvm-macvtap', cols), null, 2)}\n`);
  golden(t, 'matrix-junit.xml', matrixJunit(cols));
  const d = diffReports(passing, newer);
  t.deepEqual(d.flipped.map((f) => f.id).sort(), ['grid', 'mac-match', 'ping-remote']);
  golden(t, 'diff.txt', diffText(d, 'a/report.json', 'b/report.json'));
});

test('junit.xml: the provision tasks are a testsuite of their own, a failed task a failure', (t) => {
  const xml = junitXml('agree', [], 1000, undefined, [
    { stage: 'provision', id: 'node-b: a folder', title: 'node-b: a folder', status: 'changed', durationMs: 200 },
    {
      stage: 'provision',
      id: 'node-b: a package',
      title: 'x',
      status: 'failed',
      durationMs: 300,
      detail: 'No package <x>',
    },
    { stage: 'provision', id: 'node-a: when', title: 'x', status: 'skipped', durationMs: 0 },
  ]);
  t.regex(xml, /<testsuite name="agree provision" tests="3" failures="1" time="0\.500">/);
  t.regex(xml, /<testcase classname="agree provision" name="node-b: a folder" time="0\.200"\/>/);
  t.regex(xml, /name="node-b: a package" time="0\.300">\n {6}<failure message="No package &lt;x&gt;" type="task"\/>/);
  t.regex(xml, /name="node-a: when" time="0\.000">\n {6}<skipped\/>/);
});

test('where the packet died: the trace of a failed ping in report.html, on the topology and in one line', (t) => {
  const trace = {
    hops: [
      {
        label: 'remote-01 eth1',
        node: 'm:remote-01',
        requests: 2,
        pcap: '/tmp/r/evidence/ping-remote/1-remote-01_eth1.pcap',
      },
      { label: 'lan port of remote-01', node: 'net:lan', requests: 2 },
      { label: 'lan port of kvm-01', node: 'net:lan', requests: 0 },
      { label: 'kvm-01 eth1', node: 'm:kvm-01', requests: 0 },
    ],
    last: 'lan port of remote-01',
    lastNode: 'net:lan',
    lostBefore: 'lan port of kvm-01',
  };
  const results = RESULTS.map((r) => (r.id === 'ping-remote' ? { ...r, trace } : r));
  const html = htmlReport({
    ...REPORT,
    assertions: results,
    lab: loadLab('kvm-macvtap'),
    reportDir: '/tmp/r',
    stages: REPORT.stages,
  });
  t.regex(html, /id="trace-ping-remote"/);
  t.regex(html, /<a href="evidence\/ping-remote\/1-remote-01_eth1\.pcap">remote-01 eth1<\/a>: 2/);
  t.regex(html, /last seen on <b>lan port of remote-01<\/b>, never on <b>lan port of kvm-01<\/b>/);
  t.regex(
    html,
    /<g class="node node-underlay" data-id="net:lan">.*<g class="last-seen"><title>ping-remote: the echo requests were last seen on lan port of remote-01, never on lan port of kvm-01<\/title>/s,
  );
  t.is(
    traceLine({ ...results.find((r) => r.id === 'ping-remote')! }),
    'ping-remote: the echo requests were last seen on lan port of remote-01, never on lan port of kvm-01',
  );
});

test("junit.xml of a student's instance is named after it (a class's files tell students apart)", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-junit-'));
  writeReports(dir, { ...REPORT, instance: 'alice' }, undefined, ['junit']);
  t.regex(readFileSync(join(dir, 'junit.xml'), 'utf8'), /<testsuite name="kvm-macvtap \(alice\)"/);
  const own = mkdtempSync(join(tmpdir(), 'virtlab-junit-'));
  writeReports(own, { ...REPORT, instance: 'kvm-macvtap' }, undefined, ['junit']);
  t.regex(readFileSync(join(own, 'junit.xml'), 'utf8'), /<testsuite name="kvm-macvtap" /);
});

test('measured figures: report.html table and bar chart, junit properties, the matrix cell, the diff', (t) => {
  const fig = (value: number, verdict?: 'within' | 'regression') => ({
    name: 'throughput',
    value,
    unit: 'Mbit/s',
    better: 'higher' as const,
    samples: [value],
    ...(verdict ? { baseline: { name: 'main', median: 500, measured: value, low: 440, high: 560, verdict } } : {}),
  });
  const tput = (id: string, value: number, verdict?: 'within' | 'regression'): AssertionResult => ({
    id,
    kind: 'throughput',
    title: `TCP throughput ${id}`,
    expect: 'pass',
    observed: 'pass',
    status: verdict === 'regression' ? 'fail' : 'pass',
    reason: `${value} Mbit/s`,
    durationMs: 3000,
    evidence: [],
    figures: [fig(value, verdict), { name: 'retransmits', value: 2, unit: 'segments', better: 'lower' as const }],
  });
  const results = [tput('bridge-internal', 1480, 'within'), tput('vepa-internal', 20, 'regression')];
  const html = htmlReport({
    ...REPORT,
    assertions: results,
    lab: loadLab('throughput-modes'),
    reportDir: '/tmp/r',
    stages: {},
  });
  t.regex(html, /<h2>Measurements<\/h2>/);
  t.regex(
    html,
    /<td><b>1480 Mbit\/s<\/b><\/td><td>retransmits 2 segments<\/td><td><span class="v-within">within<\/span> 500 \(440–560\)/,
  );
  const bars = [...html.matchAll(/<rect x="170" y="[\d.]+" width="([\d.]+)" height="16" class="(bar-\w+)"/g)];
  t.deepEqual(
    bars.map((b) => [Number(b[1]), b[2]]),
    [
      [420, 'bar-ok'],
      [Number(((20 / 1480) * 420).toFixed(1)), 'bar-bad'],
    ],
    'bars scale to the largest figure; a regression is drawn red',
  );
  const junit = junitXml('throughput-modes', results, 6000);
  t.regex(junit, /<property name="throughput" value="1480 Mbit\/s"\/>/);
  t.regex(junit, /<property name="throughput.baseline" value="regression: 20 vs 500 \(440–560, main\)"\/>/);
  t.regex(junit, /<failure message="20 Mbit\/s" type="regression">/);
  const a: RunReport = { ...REPORT, assertions: [results[0]!] };
  const b: RunReport = { ...REPORT, assertions: [{ ...results[0]!, figures: [fig(1100)] }] };
  t.regex(matrixText('throughput-modes', [{ target: 'k61', report: a }]), /bridge-internal\s+pass 1480 Mbit\/s/);
  t.regex(
    matrixMarkdown('throughput-modes', [{ target: 'k61', report: { ...REPORT, assertions: [results[1]!] } }]),
    /\| vepa-internal \| FAIL 20 Mbit\/s REGRESSION \|/,
  );
  const d = diffReports(a, b);
  t.deepEqual(d.figures, [
    { id: 'bridge-internal', name: 'throughput', unit: 'Mbit/s', a: 1480, b: 1100, changePct: -25.7 },
  ]);
  t.regex(diffText(d, 'a', 'b'), /figures:\n {2}bridge-internal throughput: 1480 -> 1100 Mbit\/s \(-25\.7%\)/);
});
