// What a matrix writes (matrix, merge, and a shard of a matrix): Markdown, JSON, an HTML table, junit.xml; its exit.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../errors.ts';
import { type MatrixColumn, matrixHtml, matrixJson, matrixJunit, matrixMarkdown } from '../report/matrix.ts';

/** The combined files of a matrix (also of `virtlab merge`): Markdown, JSON, an HTML table and junit.xml. */
export function writeMatrixFiles(dir: string, lab: string, cols: MatrixColumn[]): void {
  writeFileSync(join(dir, 'matrix.md'), matrixMarkdown(lab, cols), { mode: 0o600 });
  writeFileSync(join(dir, 'matrix.json'), `${JSON.stringify(matrixJson(lab, cols), null, 2)}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'matrix.html'), matrixHtml(lab, cols), { mode: 0o600 });
  writeFileSync(join(dir, 'junit.xml'), matrixJunit(cols), { mode: 0o600 });
}

/** A column without a report is the host's problem; a failed run is the lab's. */
export function matrixExit(cols: MatrixColumn[]): number {
  return cols.some((c) => !c.report)
    ? EXIT.host
    : cols.some((c) => c.report!.result !== 'pass')
      ? EXIT.assertion
      : EXIT.ok;
}
