// junit.xml: one testcase per assertion, the failure message carrying the reason and the evidence.
import type { AssertionResult } from './events.ts';
import type { ReportStep } from './run-report.ts';
import { visible } from './visible.ts';

export function xmlEscape(s: string): string {
  // XML 1.0 cannot carry most control characters: they are shown as \xHH (also in the HTML report)
  return visible(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function evidenceText(r: AssertionResult): string {
  return r.evidence
    .map(
      (e) =>
        `${e.machine}$ ${e.argv.join(' ')}  (exit ${e.exitCode})\n${e.stdout.trimEnd()}${e.stderr ? `\n${e.stderr.trimEnd()}` : ''}`,
    )
    .join('\n\n');
}

/** A measuring check's figures as testcase properties (value, unit, and the baseline's verdict), as CI tools show them. */
function figureProperties(r: AssertionResult): string {
  if (!r.figures?.length) return '';
  const props = r.figures.flatMap((f) => [
    `        <property name="${xmlEscape(f.name)}" value="${f.value} ${xmlEscape(f.unit)}"/>`,
    ...(f.baseline
      ? [
          `        <property name="${xmlEscape(`${f.name}.baseline`)}" value="${xmlEscape(`${f.baseline.verdict}: ${f.baseline.measured} vs ${f.baseline.median} (${f.baseline.low}–${f.baseline.high}, ${f.baseline.name})`)}"/>`,
        ]
      : []),
  ]);
  return ['      <properties>', ...props, '      </properties>'].join('\n');
}

export function junitXml(
  suite: string,
  results: AssertionResult[],
  totalMs: number,
  extraFailure?: string,
  /** the provision stage's tasks (the subset's or ansible-playbook's), a testsuite of their own */
  tasks: ReportStep[] = [],
): string {
  const failures =
    results.flatMap((r): { status: string }[] => r.cells ?? [r]).filter((r) => r.status === 'fail').length +
    (extraFailure ? 1 : 0);
  const cases = results
    .flatMap((r): AssertionResult[] =>
      r.cells
        ? r.cells.map((c) => ({
            ...r,
            id: `${r.id}[${c.from}->${c.to}]`,
            title: `${c.from} -> ${c.to} (expected ${c.expect})`,
            status: c.status,
            reason: c.reason,
            cells: undefined,
            evidence: r.evidence.filter((e) => e.machine.startsWith(c.from)),
          }))
        : [r],
    )
    .map((r) => {
      const name = xmlEscape(`${r.id}: ${r.title}`);
      const head = `    <testcase classname="${xmlEscape(suite)}" name="${name}" time="${(r.durationMs / 1000).toFixed(3)}"`;
      const props = figureProperties(r);
      if (r.status === 'pass') return props ? `${head}>\n${props}\n    </testcase>` : `${head}/>`;
      const msg = xmlEscape(`${r.reason}${r.hint ? ` (hint: ${r.hint})` : ''}`);
      const type = r.figures?.some((f) => f.baseline?.verdict === 'regression') ? 'regression' : r.kind;
      return `${head}>\n${props ? `${props}\n` : ''}      <failure message="${msg}" type="${type}">${xmlEscape(evidenceText(r))}</failure>\n    </testcase>`;
    });
  if (extraFailure)
    cases.push(
      `    <testcase classname="${xmlEscape(suite)}" name="run"><error message="${xmlEscape(extraFailure)}"/></testcase>`,
    );
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="virtlab" tests="${cases.length}" failures="${failures}" time="${(totalMs / 1000).toFixed(3)}">`,
    `  <testsuite name="${xmlEscape(suite)}" tests="${cases.length}" failures="${failures}" time="${(totalMs / 1000).toFixed(3)}">`,
    ...cases,
    '  </testsuite>',
    ...provisionSuite(`${suite} provision`, tasks),
    '</testsuites>',
    '',
  ].join('\n');
}

/** One testcase per playbook task and machine: failed tasks fail, skipped ones are skipped. */
function provisionSuite(suite: string, tasks: ReportStep[]): string[] {
  if (!tasks.length) return [];
  const failures = tasks.filter((t) => t.status === 'failed').length;
  const time = (tasks.reduce((n, t) => n + t.durationMs, 0) / 1000).toFixed(3);
  const cases = tasks.map((t) => {
    const head = `    <testcase classname="${xmlEscape(suite)}" name="${xmlEscape(t.id)}" time="${(t.durationMs / 1000).toFixed(3)}"`;
    if (t.status === 'failed')
      return `${head}>\n      <failure message="${xmlEscape(t.detail ?? 'failed')}" type="task"/>\n    </testcase>`;
    if (t.status === 'skipped') return `${head}>\n      <skipped/>\n    </testcase>`;
    return `${head}/>`;
  });
  return [
    `  <testsuite name="${xmlEscape(suite)}" tests="${tasks.length}" failures="${failures}" time="${time}">`,
    ...cases,
    '  </testsuite>',
  ];
}
