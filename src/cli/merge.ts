// virtlab merge <report-dir>...: the report folders of separate runs (one per CI job, or several matrices' target
// folders) into one matrix of a lab: matrix.md, matrix.json, matrix.html and junit.xml. No machines involved.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UsageError } from '../errors.ts';
import { claimReportDir } from '../host/report-dir.ts';
import { type MatrixColumn, matrixJson, matrixText } from '../report/matrix.ts';
import type { Options } from './args.ts';
import { matrixExit, writeMatrixFiles } from './matrix-files.ts';
import { readReport } from './read-report.ts';

/**
 * The columns a folder stands for: a run's folder (report.json) is one, named after the folder; a matrix's folder
 * (matrix.json) is one per target folder in it, named after the target.
 */
export function columnsOf(dir: string): MatrixColumn[] {
  if (existsSync(join(dir, 'report.json')))
    return [{ target: basename(dir.replace(/\/+$/, '')), report: readReport(dir) }];
  if (existsSync(join(dir, 'matrix.json')))
    return readdirSync(dir)
      .filter((d) => statSync(join(dir, d)).isDirectory() && existsSync(join(dir, d, 'report.json')))
      .sort()
      .map((d) => ({ target: d, report: readReport(join(dir, d)) }));
  throw new UsageError(
    `${dir} holds no report.json and no matrix.json`,
    'give the report folders of runs (virtlab run --report-dir) or of matrices',
  );
}

export function commandMerge(o: Options): number {
  if (!o.args.length)
    throw new UsageError('merge needs report folders', 'virtlab merge <report-dir>... [--report-dir merged]');
  const cols = o.args.flatMap(columnsOf);
  const labs = [...new Set(cols.map((c) => c.report!.lab))];
  if (labs.length > 1)
    throw new UsageError(
      `the reports are of different labs (${labs.join(', ')}); a matrix is of one lab`,
      'merge the folders of each lab separately',
    );
  const seen = new Set<string>();
  for (const c of cols) {
    if (seen.has(c.target))
      throw new UsageError(
        `two reports are both named ${c.target}`,
        "name each run's folder after its target (the column names come from the folder names)",
      );
    seen.add(c.target);
  }
  const lab = labs[0]!;
  const dir = o.reportDir ?? `merged-${lab}`;
  claimReportDir(dir);
  writeMatrixFiles(dir, lab, cols);
  if (o.json) console.log(JSON.stringify(matrixJson(lab, cols), null, 2));
  else
    process.stdout.write(`${matrixText(lab, cols)}merged: ${dir} (matrix.md, matrix.json, matrix.html, junit.xml)\n`);
  return matrixExit(cols);
}
