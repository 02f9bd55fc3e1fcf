// report.html: one self-contained page (inline CSS and SVG, no fetches): description, topology with the run's
// reachability, assertions with collapsible evidence, grids as coloured tables, stage timings, versions, files.
import { basename, relative } from 'node:path';
import type { Lab } from '../lab/model.ts';
import type { AssertionResult, PacketTrace } from './events.ts';
import { measurementsHtml } from './figures-html.ts';
import { labGraph, toSvg } from './graph.ts';
import { xmlEscape as esc, evidenceText } from './junit.ts';
import type { ReportStep } from './run-report.ts';

export interface HtmlInput {
  lab: Lab;
  instance: string;
  runId: string;
  result: string;
  durationMs: number;
  startedAt: string;
  stages: Record<string, number | undefined>;
  assertions: AssertionResult[];
  machines: {
    name: string;
    role: string;
    kernel?: string;
    distribution?: string;
    libvirt?: string;
    qemu?: string;
    /** exact Debian package versions (libvirt-daemon, qemu-system-x86, iptables, nftables, dnsmasq-base) */
    packages?: Record<string, string>;
    kind?: string;
    guests?: string;
  }[];
  images: { ref: string; source: string }[];
  files: string[];
  reportDir: string;
  error?: string;
  score?: { points: number; max: number };
  /** every step the run went through, with its status (skipped and failed ones stand out) */
  steps?: ReportStep[];
}

/** A check that could not be made at all (a ping to a guest without an address): neither passed nor failed. */
const inconclusive = (r: AssertionResult) => r.status === 'fail' && r.reason.startsWith('cannot check:');
const rank = (r: AssertionResult) => (r.status === 'pass' ? 2 : inconclusive(r) ? 1 : 0);

/** Text with `code spans`, as lab hints write them. */
const withCode = (s: string) => esc(s).replace(/`([^`]+)`/g, '<code>$1</code>');

/** "11.3.0 (11.3.0-3+deb13u3)": the upstream version with the exact package that carried it. */
function withPackage(version: string | undefined, pkg: string | undefined): string {
  return [version, pkg && pkg !== version ? `(${pkg})` : ''].filter(Boolean).join(' ');
}

/** Guest addresses the run saw (its ready steps say "ip, mac"), for the topology. */
function guestAddresses(steps: ReportStep[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of steps) {
    const m = /^ready-(.+)$/.exec(s.id);
    const ip = /^(\d+\.\d+\.\d+\.\d+)/.exec(s.detail ?? '');
    if (m && ip && s.status !== 'failed') out[m[1]!] = ip[1]!;
  }
  return out;
}

/** Where the packet died: the ports on the path with the echo requests each saw, and their pcaps. */
function traceHtml(r: AssertionResult, dir: string): string {
  const t = r.trace;
  if (!t) return '';
  const hop = (h: PacketTrace['hops'][number]) => {
    const n = h.requests < 0 ? '?' : String(h.requests);
    const name = h.pcap ? `<a href="${esc(relative(dir, h.pcap))}">${esc(h.label)}</a>` : esc(h.label);
    return `<span class="hop${h.requests > 0 ? ' seen' : ''}">${name}: ${n}</span>`;
  };
  const verdict = t.last
    ? `last seen on <b>${esc(t.last)}</b>${t.lostBefore ? `, never on <b>${esc(t.lostBefore)}</b>` : ''}`
    : 'not seen on any port';
  return `<div class="trace" id="trace-${esc(r.id)}">where the packet died (the check run again with tcpdump on each port; echo requests seen): ${t.hops.map(hop).join(' → ')}<br>${verdict}</div>`;
}

function stepsTable(steps: ReportStep[] = []): string {
  if (!steps.length) return '';
  const rows = steps
    .map(
      (s) =>
        `<tr class="s-${esc(s.status)}"><td>${esc(s.stage)}</td><td class="status">${esc(s.status)}</td><td>${esc(s.title)}${s.detail ? ` <span class="expected">(${esc(s.detail)})</span>` : ''}</td><td>${(s.durationMs / 1000).toFixed(2)} s</td></tr>`,
    )
    .join('');
  return `<h2>Steps</h2><table id="steps"><tr><th>stage</th><th>status</th><th>step</th><th>time</th></tr>${rows}</table>`;
}

const CSS = `
.figures-chart text{font-size:12px;fill:#1f2328} .bar-ok{fill:#2da44e} .bar-bad{fill:#cf222e}
.v-regression{color:#cf222e;font-weight:bold} .v-improvement{color:#1a7f37} .v-within,.v-no-band{color:#57606a}
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1f2328;padding:0 1rem}
h1{margin-bottom:.2rem} .sub{color:#57606a;margin-top:0}
.verdict{display:inline-block;padding:.2rem .7rem;border-radius:1rem;color:#fff;font-weight:bold}
.pass{background:#1a7f37} .fail,.error{background:#cf222e} .interrupted{background:#9a6700}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem} th,td{border:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa} tr.a-pass td.status{color:#1a7f37;font-weight:bold} tr.a-fail td.status{color:#cf222e;font-weight:bold}
tr.a-fail{background:#ffebe9} tr.a-inconclusive{background:#fff8c5} tr.a-inconclusive td.status{color:#9a6700;font-weight:bold}
.trace{margin:.3rem 0;font-size:.9em} .hop{padding:0 .2rem;border-radius:3px;background:#ffcecb} .hop.seen{background:#dafbe1}
tr.s-skipped{background:#fff8c5} tr.s-failed{background:#ffebe9} tr.s-skipped td.status,tr.s-failed td.status{font-weight:bold} details pre{background:#f6f8fa;padding:.5rem;overflow-x:auto;font-size:12px;white-space:pre-wrap}
td.cell-pass{background:#dafbe1} td.cell-fail{background:#ffcecb} td.cell-none{color:#8c959f}
.bar{height:14px;background:#0969da;border-radius:3px} .graph{overflow-x:auto;border:1px solid #d0d7de;border-radius:6px;padding:.5rem}
.hint{color:#9a6700} .expected{color:#57606a;font-size:.9em} code{background:#f6f8fa;padding:0 .2rem}
`;

function grid(r: AssertionResult): string {
  const cells = r.cells ?? [];
  const nodes = [...new Set(cells.flatMap((c) => [c.from, c.to]))];
  const rows = nodes.filter((n) => cells.some((c) => c.from === n));
  const cols = nodes.filter((n) => cells.some((c) => c.to === n));
  const head = `<tr><th>from \\ to</th>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>`;
  const body = rows
    .map(
      (f) =>
        `<tr><th>${esc(f)}</th>${cols
          .map((t) => {
            const c = cells.find((x) => x.from === f && x.to === t);
            if (!c) return '<td class="cell-none">·</td>';
            return `<td class="cell-${c.status}" title="${esc(c.reason)}">expected ${c.expect}${c.status === 'pass' ? ' ✓' : ` ✗ saw ${c.observed}`}</td>`;
          })
          .join('')}</tr>`,
    )
    .join('');
  return `<table class="grid">${head}${body}</table>`;
}

export function htmlReport(i: HtmlInput): string {
  const graph = toSvg(labGraph(i.lab, i.assertions, guestAddresses(i.steps)), `${i.lab.name} topology`);
  const maxStage = Math.max(1, ...Object.values(i.stages).map((v) => v ?? 0));
  // failures first, then what could not be checked, then what held; the lab's order within each
  const ordered = i.assertions.map((r, n) => ({ r, n })).sort((a, b) => rank(a.r) - rank(b.r) || a.n - b.n);
  const rows = ordered
    .map(({ r }) => ({ r, cls: inconclusive(r) ? 'inconclusive' : r.status }))
    .map(
      ({ r, cls }) => `
<tr class="a-${cls}" id="assert-${esc(r.id)}"><td class="status">${cls === 'pass' ? '✓ pass' : cls === 'inconclusive' ? '? could not check' : '✗ fail'}</td>
<td><b>${esc(r.id)}</b>: ${esc(r.title)}${r.expect === 'fail' ? ' <span class="expected">(expected failure)</span>' : ''}
<div class="reason">${esc(r.reason)}</div>${r.status === 'fail' && r.hint ? `<div class="hint">hint: ${withCode(r.hint)}</div>` : ''}${traceHtml(r, i.reportDir)}
${r.cells ? grid(r) : ''}
${r.evidence.length ? `<details><summary>evidence (${r.evidence.length} command${r.evidence.length === 1 ? '' : 's'})</summary><pre>${esc(evidenceText(r))}</pre></details>` : ''}</td></tr>`,
    )
    .join('');
  const files = i.files
    .map((f) => {
      const rel = relative(i.reportDir, f);
      return `<li><a href="${esc(rel)}">${esc(rel || basename(f))}</a></li>`;
    })
    .join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>virtlab ${esc(i.lab.name)}: ${esc(i.result)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${CSS}</style></head>
<body>
<h1>${esc(i.lab.name)} <span class="verdict ${esc(i.result)}" id="verdict">${esc(i.result.toUpperCase())}</span></h1>
<p class="sub">${esc(i.lab.description)}<br>instance ${esc(i.instance)}, run ${esc(i.runId)}, ${esc(i.startedAt)}, ${(i.durationMs / 1000).toFixed(1)} s${i.lab.variant ? `, variant ${esc(i.lab.variant)}` : ''}${i.score ? `, score ${i.score.points}/${i.score.max}` : ''}</p>
${i.error ? `<p class="hint"><b>error:</b> ${esc(i.error)}</p>` : ''}
${i.lab.teaches ? `<h2>What it teaches</h2><p>${esc(i.lab.teaches)}</p>` : ''}
<h2>Topology</h2>
<p class="expected">Green arrows: pings that went through; red: pings that did not; dashed: failures the lab expects.</p>
<div class="graph">${graph}</div>
<h2>Assertions (${i.assertions.filter((r) => r.status === 'pass').length}/${i.assertions.length} as expected)</h2>
<table id="assertions"><tr><th>result</th><th>check</th></tr>${rows}</table>
${measurementsHtml(i.assertions)}
${stepsTable(i.steps)}
<h2>Stages</h2>
<table id="stages">${Object.entries(i.stages)
    .map(
      ([k, v]) =>
        `<tr><td>${esc(k)}</td><td style="width:70%"><div class="bar" style="width:${(((v ?? 0) / maxStage) * 100).toFixed(1)}%"></div></td><td>${((v ?? 0) / 1000).toFixed(2)} s</td></tr>`,
    )
    .join('')}</table>
<h2>Machines and versions</h2>
<table id="versions"><tr><th>machine</th><th>role</th><th>runs as</th><th>kernel</th><th>distribution</th><th>libvirt</th><th>QEMU</th></tr>
${i.machines.map((m) => `<tr><td>${esc(m.name)}</td><td>${esc(m.role)}</td><td>${esc([m.kind, m.guests ? `guests under ${m.guests}` : ''].filter(Boolean).join(', '))}</td><td>${esc(m.kernel ?? '')}</td><td>${esc(m.distribution ?? '')}</td><td>${esc(withPackage(m.libvirt, m.packages?.['libvirt-daemon']))}</td><td>${esc(withPackage(m.qemu, m.packages?.['qemu-system-x86']))}</td></tr>`).join('')}</table>
<p>Images: ${i.images.map((im) => `<code>${esc(im.ref)}</code>: ${esc(im.source)}`).join('; ') || 'none'}</p>
<h2>Files</h2><ul id="files">${files || '<li>none</li>'}</ul>
</body></html>
`;
}
