// report.html of a passing and of a failing run, opened offline in headless Chromium: screenshots and the DOM.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { XMLValidator } from 'fast-xml-parser';
import { loadLab } from '../../src/lab/load.ts';
import { labGraph, toSvg } from '../../src/report/graph.ts';
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
      /<td>kvm-01<\/td><td>hypervisor<\/td><td>namespace, guests under TCG<\/td><td>[^<]+<\/td><td>[^<]+<\/td><td>9\.0\.0 \(9\.0\.0-[^<)]+\)<\/td>/,
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

/** In the browser: every node's texts inside its box, and no edge label over another label or over a box. */
const MEASURE = `<script>
const box = (e) => e.getBBox();
const inside = (a, b) => a.x >= b.x - 0.5 && a.y >= b.y - 0.5 && a.x + a.width <= b.x + b.width + 0.5 && a.y + a.height <= b.y + b.height + 0.5;
const overlap = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
const problems = [];
const rects = [];
for (const g of document.querySelectorAll('g.node')) {
  const r = box(g.querySelector('rect'));
  rects.push([g.dataset.id, r]);
  for (const t of g.querySelectorAll('text')) if (!inside(box(t), r)) problems.push('text outside its box: ' + t.textContent);
}
const labels = [...document.querySelectorAll('text.edge-label')].map((t) => [t.textContent, box(t)]);
labels.forEach(([a, ab], i) => {
  labels.slice(i + 1).forEach(([b, bb]) => { if (overlap(ab, bb)) problems.push('labels overlap: ' + a + ' / ' + b); });
  for (const [id, r] of rects) if (overlap(ab, r)) problems.push('label over a box: ' + a + ' / ' + id);
});
document.body.setAttribute('data-problems', JSON.stringify(problems));
document.body.setAttribute('data-labels', String(labels.length));
</script>`;

test('graph layout: in every shipped lab, no edge labels overlap and no text runs out of its box (Chromium)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-bbox-'));
  const labs = readdirSync('labs').filter((f) => f.endsWith('.yml'));
  t.true(labs.length >= 6);
  for (const f of labs) {
    const lab = loadLab(f.replace(/\.yml$/, ''));
    const svg = toSvg(labGraph(lab), lab.name);
    const page = join(dir, `${lab.name}.html`);
    writeFileSync(page, `<!DOCTYPE html><html><body>${svg}${MEASURE}</body></html>`);
    const dom = chromium(['--dump-dom', `file://${page}`]);
    const problems = /data-problems="([^"]*)"/.exec(dom)?.[1];
    t.truthy(problems, `${lab.name}: the page was measured`);
    t.deepEqual(JSON.parse(problems!.replace(/&quot;/g, '"').replace(/&amp;/g, '&')), [], lab.name);
    t.true(Number(/data-labels="(\d+)"/.exec(dom)?.[1]) > 0, `${lab.name}: edge labels were measured`);
  }
});
