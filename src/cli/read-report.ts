// A run's report.json, given as the file or the folder that holds it (diff, baseline save).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError } from '../errors.ts';
import type { HostState } from '../report/host-state.ts';
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

/** The host-state.json next to a report (undefined when the run kept none, or it cannot be read). */
export function readHostState(p: string): Record<string, HostState> | undefined {
  const dir = existsSync(p) && statSync(p).isDirectory() ? p : dirname(p);
  try {
    return JSON.parse(readFileSync(join(dir, 'host-state.json'), 'utf8')) as Record<string, HostState>;
  } catch {
    return undefined;
  }
}
