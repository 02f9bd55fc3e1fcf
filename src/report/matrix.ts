// A lab across targets: assertions x targets with versions in the header (console, Markdown, JSON, junit), and
// the difference between two reports (assertions that flipped, versions that differ).

import { xmlEscape as esc, junitXml } from './junit.ts';
import type { RunReport } from './run-report.ts';

export interface MatrixColumn {
  target: string;
  report?: RunReport;
  error?: string;
}

function versions(r?: RunReport): string {
  const hv = r?.machines.filter((m) => m.role === 'hypervisor') ?? [];
  return hv
    .map(
      (m) =>
        `${m.name}${m.kind ? ` (${m.kind}, guests ${m.guests ?? '?'})` : ''}: kernel ${m.kernel ?? '?'}, libvirt ${m.libvirt ?? '?'}, QEMU ${m.qemu ?? '?'}`,
    )
    .join('; ');
}

function cell(c: MatrixColumn, id: string): string {
  if (!c.report) return 'error';
  const a = c.report.assertions.find((x) => x.id === id);
  if (!a) return '-';
  const status = a.status === 'pass' ? `pass${a.expect === 'fail' ? ' (expected failure)' : ''}` : 'FAIL';
  // a measuring check shows its first figure, and a regression against the baseline
  const f = a.figures?.[0];
  const regression = a.figures?.some((x) => x.baseline?.verdict === 'regression') ? ' REGRESSION' : '';
  return f ? `${status} ${f.value} ${f.unit}${regression}` : status;
}

function ids(cols: MatrixColumn[]): string[] {
  return [...new Set(cols.flatMap((c) => c.report?.assertions.map((a) => a.id) ?? []))];
}

export function matrixMarkdown(lab: string, cols: MatrixColumn[]): string {
  const lines = [`# ${lab} across ${cols.length} targets`, '', '| target | result | versions |', '|---|---|---|'];
  for (const c of cols)
    lines.push(`| ${c.target} | ${c.report?.result ?? `error: ${c.error}`} | ${versions(c.report)} |`);
  lines.push(
    '',
    `| assertion | ${cols.map((c) => c.target).join(' | ')} |`,
    `|---|${cols.map(() => '---').join('|')}|`,
  );
  for (const id of ids(cols)) lines.push(`| ${id} | ${cols.map((c) => cell(c, id)).join(' | ')} |`);
  return `${lines.join('\n')}\n`;
}

export function matrixText(lab: string, cols: MatrixColumn[]): string {
  const w = Math.max(10, ...ids(cols).map((i) => i.length)) + 2;
  const cw =
    Math.max(
      12,
      ...cols.map((c) => c.target.length),
      ...cols.flatMap((c) => ids(cols).map((id) => cell(c, id).replace(' (expected failure)', '*').length)),
    ) + 2;
  const lines = [`${lab} across ${cols.length} targets`];
  for (const c of cols)
    lines.push(`  ${c.target}: ${c.report?.result.toUpperCase() ?? `ERROR ${c.error}`}  ${versions(c.report)}`);
  lines.push('', `${'assertion'.padEnd(w)}${cols.map((c) => c.target.padEnd(cw)).join('')}`);
  for (const id of ids(cols))
    lines.push(
      `${id.padEnd(w)}${cols.map((c) => cell(c, id).replace(' (expected failure)', '*').padEnd(cw)).join('')}`,
    );
  lines.push('(* an expected failure that failed as expected)');
  return `${lines.join('\n')}\n`;
}

export function matrixJson(lab: string, cols: MatrixColumn[]): unknown {
  return {
    lab,
    targets: cols.map((c) => ({
      target: c.target,
      result: c.report?.result ?? 'error',
      error: c.error,
      machines: c.report?.machines ?? [],
    })),
    assertions: ids(cols).map((id) => ({
      id,
      results: Object.fromEntries(
        cols.map((c) => [c.target, c.report?.assertions.find((a) => a.id === id)?.status ?? null]),
      ),
    })),
  };
}

/** A self-contained HTML table: targets with their versions as columns, assertions as rows, coloured by result. */
export function matrixHtml(lab: string, cols: MatrixColumn[]): string {
  const head = cols
    .map(
      (c) =>
        `<th>${esc(c.target)}<div class="v">${esc(c.report ? `${c.report.result}: ${versions(c.report)}` : `error: ${c.error ?? ''}`)}</div></th>`,
    )
    .join('');
  const rows = ids(cols)
    .map((id) => {
      const cells = cols
        .map((c) => {
          const text = cell(c, id);
          const cls = text.startsWith('pass') ? 'pass' : text === '-' ? 'none' : 'fail';
          return `<td class="${cls}">${esc(text)}</td>`;
        })
        .join('');
      return `<tr><th>${esc(id)}</th>${cells}</tr>`;
    })
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>virtlab matrix: ${esc(lab)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2328} table{border-collapse:collapse}
td,th{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top} .v{font-weight:normal;font-size:12px;color:#57606a;max-width:22rem}
td.pass{background:#dafbe1} td.fail{background:#ffebe9;font-weight:bold} td.none{color:#8c959f}</style></head>
<body><h1>${esc(lab)} across ${cols.length} targets</h1>
<table id="matrix"><tr><th>assertion</th>${head}</tr>
${rows}</table></body></html>
`;
}

/** One testsuite per target. */
export function matrixJunit(cols: MatrixColumn[]): string {
  const suites = cols.map((c) => {
    const x = junitXml(
      c.target,
      c.report?.assertions ?? [],
      c.report?.durationMs ?? 0,
      c.report ? undefined : (c.error ?? 'no report'),
    );
    return x
      .split('\n')
      .filter((l) => l.startsWith('  <testsuite') || l.startsWith('    ') || l.startsWith('  </testsuite'))
      .join('\n');
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<testsuites name="virtlab matrix">',
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}

export interface Difference {
  flipped: { id: string; a: string; b: string; reasonA: string; reasonB: string }[];
  onlyIn: { id: string; side: 'a' | 'b' }[];
  versions: { machine: string; field: string; a?: string; b?: string }[];
  /** measured figures of both runs, with the change in percent */
  figures: { id: string; name: string; unit: string; a: number; b: number; changePct: number }[];
}

export function diffReports(a: RunReport, b: RunReport): Difference {
  const flipped: Difference['flipped'] = [];
  const onlyIn: Difference['onlyIn'] = [];
  for (const x of a.assertions) {
    const y = b.assertions.find((r) => r.id === x.id);
    if (!y) onlyIn.push({ id: x.id, side: 'a' });
    else if (x.status !== y.status || x.observed !== y.observed)
      flipped.push({ id: x.id, a: x.status, b: y.status, reasonA: x.reason, reasonB: y.reason });
  }
  for (const y of b.assertions) if (!a.assertions.some((r) => r.id === y.id)) onlyIn.push({ id: y.id, side: 'b' });
  const vers: Difference['versions'] = [];
  for (const m of a.machines) {
    const n = b.machines.find((x) => x.name === m.name);
    for (const f of ['kernel', 'distribution', 'libvirt', 'qemu', 'kind', 'guests'] as const)
      if (m[f] !== n?.[f]) vers.push({ machine: m.name, field: f, a: m[f], b: n?.[f] });
    // the exact packages (iptables, nftables, dnsmasq... as well as libvirt's and QEMU's Debian revisions)
    const pa = m.packages ?? {};
    const pb = n?.packages ?? {};
    for (const p of [...new Set([...Object.keys(pa), ...Object.keys(pb)])].sort())
      if (pa[p] !== pb[p]) vers.push({ machine: m.name, field: `package ${p}`, a: pa[p], b: pb[p] });
  }
  const figures: Difference['figures'] = [];
  for (const x of a.assertions) {
    const y = b.assertions.find((r) => r.id === x.id);
    for (const f of x.figures ?? []) {
      const g = y?.figures?.find((h) => h.name === f.name);
      if (!g) continue;
      const changePct = f.value === 0 ? 0 : Number((((g.value - f.value) / f.value) * 100).toFixed(1));
      figures.push({ id: x.id, name: f.name, unit: f.unit, a: f.value, b: g.value, changePct });
    }
  }
  return { flipped, onlyIn, versions: vers, figures };
}

export function diffText(d: Difference, nameA: string, nameB: string): string {
  const lines: string[] = [];
  lines.push(d.flipped.length ? `assertions that flipped (${nameA} -> ${nameB}):` : 'no assertion flipped');
  for (const f of d.flipped)
    lines.push(`  ${f.id}: ${f.a} -> ${f.b}`, `      ${nameA}: ${f.reasonA}`, `      ${nameB}: ${f.reasonB}`);
  for (const o of d.onlyIn) lines.push(`  ${o.id}: only in ${o.side === 'a' ? nameA : nameB}`);
  lines.push(d.versions.length ? 'versions that differ:' : 'versions: the same');
  for (const v of d.versions) lines.push(`  ${v.machine} ${v.field}: ${v.a ?? '-'} -> ${v.b ?? '-'}`);
  if (d.figures.length) lines.push('figures:');
  for (const f of d.figures)
    lines.push(`  ${f.id} ${f.name}: ${f.a} -> ${f.b} ${f.unit} (${f.changePct > 0 ? '+' : ''}${f.changePct}%)`);
  return `${lines.join('\n')}\n`;
}
