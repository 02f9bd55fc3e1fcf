// The report folder: report.json and junit.xml (the console logs and evidence are written by collect).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../lab/model.ts';
import { htmlReport } from '../report/html.ts';
import { junitXml } from '../report/junit.ts';
import type { RunReport } from '../report/run-report.ts';
import { tapReport } from '../report/tap.ts';

/** Writes the report files asked for; returns their paths. */
export function writeReports(
  dir: string,
  r: RunReport,
  lab?: Lab,
  formats: string[] = ['json', 'junit', 'html'],
): string[] {
  const problem = r.result === 'error' || r.result === 'interrupted' ? (r.error ?? r.result) : undefined;
  const out: string[] = [];
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text, { mode: 0o600 });
    out.push(join(dir, name));
  };
  if (formats.includes('json')) write('report.json', `${JSON.stringify(r, null, 2)}\n`);
  if (formats.includes('junit'))
    write(
      'junit.xml',
      junitXml(
        // a student's instance (course mode) is graded by its name; a lab's own instance by the lab's
        r.instance && r.instance !== r.lab ? `${r.lab} (${r.instance})` : r.lab,
        r.assertions,
        r.durationMs,
        problem,
        r.steps.filter((s) => s.stage === 'provision'),
      ),
    );
  if (formats.includes('tap')) write('report.tap', tapReport(r.assertions, problem));
  if (formats.includes('html') && lab)
    write('report.html', htmlReport({ ...r, lab, reportDir: dir, stages: r.stages }));
  return out;
}
