// report.html of a passing and of a failing run, opened offline in headless Chromium: screenshots and the DOM.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { XMLValidator } from 'fast-xml-parser';
import { virtlab } from '../helpers/host.ts';

const CHROMIUM = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function chromium(args: string[]): string {
  const r = spawnSync(
    'chromium',
    [...CHROMIUM, `--user-data-dir=${mkdtempSync(join(tmpdir(), 'virtlab-chr-'))}`, ...args],
    { encoding: 'utf8', timeout: 60000 },
  );
  if (r.error) throw r.error;
  return r.stdout;
}

function check(t: any, dir: string) {
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  // self-contained: nothing is fetched
  t.notRegex(html, /<(script|link|img|iframe)[^>]+(src|href)=["']?https?:/i);
  t.notRegex(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, ''), /https?:\/\//);
  const svg = /<svg[\s\S]*<\/svg>/.exec(html)![0];
  t.is(XMLValidator.validate(svg), true, 'the embedded SVG is valid XML');
  const shot = join(dir, 'report.png');
  chromium([`--screenshot=${shot}`, '--window-size=1200,1600', `file://${join(dir, 'report.html')}`]);
  t.true(existsSync(shot) && statSync(shot).size > 20000, 'a real screenshot was taken');
  return chromium(['--dump-dom', `file://${join(dir, 'report.html')}`]);
}

test.serial(
  'the report of a passing run: verdict, graph with its nodes and green reachability, timings, versions',
  (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'virtlab-html-'));
    t.is(virtlab(['run', 'kvm-macvtap', '--name', 'e2e-html', '--report-dir', dir]).code, 0);
    const dom = check(t, dir);
    t.regex(dom, /<span class="verdict pass" id="verdict">PASS<\/span>/);
    for (const n of ['m:kvm-01', 'm:remote-01', 'net:lan', 'lv:kvm-01/macvtap-net', 'g:cirros'])
      t.regex(dom, new RegExp(`class="node node-\\w+" data-id="${n.replace('/', '\\/')}"`));
    t.regex(dom, /class="reach reach-pass" data-from="m:remote-01" data-to="g:cirros"/);
    t.regex(dom, /class="reach reach-fail expected-failure" data-from="m:kvm-01" data-to="g:cirros"/);
    t.notRegex(dom, /class="a-fail"/);
    t.regex(dom, /<table id="stages">.*ready/s);
    t.regex(
      dom,
      /<td>kvm-01<\/td><td>hypervisor<\/td><td>namespace, guests under TCG<\/td><td>[^<]+<\/td><td>[^<]+<\/td><td>9\.0\.0<\/td>/,
    );
    t.regex(dom, /<a href="consoles\/cirros\.log">/);
  },
);

test.serial('the report of a failing run shows the failing check in red with its reason and evidence', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-html-'));
  t.is(virtlab(['run', 'test/fixtures/labs/broken.yml', '--name', 'e2e-html-fail', '--report-dir', dir]).code, 1);
  const dom = check(t, dir);
  t.regex(dom, /<span class="verdict fail" id="verdict">FAIL<\/span>/);
  t.regex(
    dom,
    /<tr class="a-fail" id="assert-ping-remote"><td class="status">✗ fail<\/td>[\s\S]*?Network is unreachable[\s\S]*?hint: remote-01 and the guest are on different LANs[\s\S]*?<details><summary>evidence/,
  );
  t.regex(dom, /a href="evidence\/kvm-01\/ip-addr\.json"/);
});

test('virtlab graph draws every lab as valid SVG, Mermaid and DOT', (t) => {
  for (const lab of [
    'kvm-macvtap',
    'kvm-nat-hostonly',
    'kvm-routed',
    'macvtap-modes',
    'macvtap-direct',
    'qemu-macvtap',
  ]) {
    const out = join(mkdtempSync(join(tmpdir(), 'virtlab-graph-')), `${lab}.svg`);
    const r = virtlab(['graph', lab, '--out', out]);
    t.is(r.code, 0, r.out);
    const svg = readFileSync(out, 'utf8');
    t.is(XMLValidator.validate(svg), true, lab);
    t.regex(svg, /class="node node-hypervisor"/);
    t.regex(virtlab(['graph', lab, '--format', 'mermaid']).stdout, /^flowchart TB\n/);
    t.regex(virtlab(['graph', lab, '--format', 'dot']).stdout, /^graph "[^"]+" \{\n/);
  }
});
