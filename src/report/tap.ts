// TAP 13 for TAP consumers: one test point per assertion (grids: one per cell).
import type { AssertionResult } from './events.ts';

export function tapReport(results: AssertionResult[], error?: string): string {
  const points = results.flatMap((r) =>
    r.cells
      ? r.cells.map((c) => ({
          ok: c.status === 'pass',
          name: `${r.id}[${c.from}->${c.to}] expected ${c.expect}`,
          reason: c.reason,
        }))
      : [{ ok: r.status === 'pass', name: `${r.id}: ${r.title}`, reason: r.reason }],
  );
  if (error) points.push({ ok: false, name: 'run', reason: error });
  const lines = ['TAP version 13', `1..${points.length}`];
  points.forEach((p, i) => {
    lines.push(`${p.ok ? 'ok' : 'not ok'} ${i + 1} - ${p.name.replace(/#/g, '\\#')}`);
    if (!p.ok) lines.push('  ---', `  message: ${JSON.stringify(p.reason)}`, '  ...');
  });
  return `${lines.join('\n')}\n`;
}
