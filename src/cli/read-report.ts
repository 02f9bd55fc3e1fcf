// A run's report.json, given as the file or the folder that holds it (diff, baseline save).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import type { RunReport } from '../report/run-report.ts';

export function readReport(p: string): RunReport {
  const file = existsSync(p) && statSync(p).isDirectory() ? join(p, 'report.json') : p;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as RunReport;
  } catch (e) {
    throw new UsageError(
      `cannot read report ${file}: ${(e as Error).message}`,
      'give a report.json or the folder that holds it',
    );
  }
}
