// The report's measurements: a table of every measuring check's figures (with the baseline's verdict) and, per
// unit, a horizontal bar chart (inline SVG) of each check's headline figure: throughput-modes' comparison at a glance.
import type { AssertionResult, Figure } from './events.ts';
import { xmlEscape as esc } from './junit.ts';

const BAR_W = 420;
const ROW_H = 22;
const LABEL_W = 170;

const verdictCell = (f: Figure) =>
  f.baseline
    ? `<span class="v-${f.baseline.verdict}">${f.baseline.verdict}</span> ${f.baseline.median} (${f.baseline.low}–${f.baseline.high})`
    : '';

/** One chart of headline figures that share a unit (Mbit/s, ms). */
function chart(unit: string, rows: { label: string; f: Figure }[]): string {
  const max = Math.max(...rows.map((r) => r.f.value), 1e-9);
  const h = rows.length * ROW_H + 8;
  const bars = rows
    .map((r, i) => {
      const y = 4 + i * ROW_H;
      const w = Math.max(1, (r.f.value / max) * BAR_W);
      const bad = r.f.baseline?.verdict === 'regression';
      return (
        `<text x="${LABEL_W - 6}" y="${y + 14}" text-anchor="end">${esc(r.label)}</text>` +
        `<rect x="${LABEL_W}" y="${y + 2}" width="${w.toFixed(1)}" height="${ROW_H - 6}" class="${bad ? 'bar-bad' : 'bar-ok'}"/>` +
        `<text x="${(LABEL_W + w + 6).toFixed(1)}" y="${y + 14}">${r.f.value} ${esc(unit)}</text>`
      );
    })
    .join('');
  const width = LABEL_W + BAR_W + 140;
  return `<svg class="figures-chart" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}" viewBox="0 0 ${width} ${h}" role="img" aria-label="${esc(unit)} by check">${bars}</svg>`;
}

export function measurementsHtml(results: AssertionResult[]): string {
  const measured = results.filter((r) => r.figures?.length);
  if (!measured.length) return '';
  const rows = measured
    .map((r) => {
      const [head, ...rest] = r.figures!;
      const more = rest.map((f) => `${esc(f.name)} ${f.value} ${esc(f.unit)}`).join(', ');
      return `<tr><td><a href="#assert-${esc(r.id)}">${esc(r.id)}</a></td><td>${esc(r.title)}</td><td><b>${head!.value} ${esc(head!.unit)}</b></td><td>${more}</td><td>${verdictCell(head!)}</td></tr>`;
    })
    .join('');
  const byUnit = new Map<string, { label: string; f: Figure }[]>();
  for (const r of measured) {
    const f = r.figures![0]!;
    byUnit.set(f.unit, [...(byUnit.get(f.unit) ?? []), { label: r.id, f }]);
  }
  const charts = [...byUnit].map(([unit, rs]) => `<h3>${esc(unit)}</h3>${chart(unit, rs)}`).join('');
  return `<h2>Measurements</h2>
<table id="figures"><tr><th>check</th><th>what</th><th>figure</th><th>also</th><th>against the baseline</th></tr>${rows}</table>
<div class="charts">${charts}</div>`;
}
