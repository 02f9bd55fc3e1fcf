// A report folder named with --report-dir: virtlab writes only into a folder it created or marked as its own, and
// never renames or removes one. An existing folder that holds anything without the mark is refused before
// anything is created.
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';

export const REPORT_MARK = '.virtlab-report';

/** Makes (or checks) a report folder and marks it; a UsageError (exit 2) says why it cannot be used. */
export function claimReportDir(dir: string, flag = '--report-dir'): void {
  if (existsSync(dir)) {
    const st = statSync(dir);
    if (!st.isDirectory()) throw new UsageError(`${flag} ${dir} is not a folder`, 'name a new or empty folder');
    const foreign = readdirSync(dir).length > 0 && !existsSync(join(dir, REPORT_MARK));
    if (foreign) {
      throw new UsageError(
        `${flag} ${dir} already holds files virtlab did not write`,
        'name a new or empty folder: virtlab never writes over files it did not make',
      );
    }
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, REPORT_MARK), 'virtlab writes its reports here\n', { mode: 0o600 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EROFS'
          ? 'read-only file system'
          : (e as Error).message;
    throw new UsageError(`${flag} ${dir} cannot be written (${why})`, 'name a folder you can write');
  }
}

/** An output file (--out): its folder must exist and be writable, and it must not be a folder itself. */
export function checkOutFile(file: string, flag = '--out'): void {
  if (existsSync(file) && statSync(file).isDirectory())
    throw new UsageError(`${flag} ${file} is a folder`, 'name a file');
  try {
    writeFileSync(file, '', { flag: 'a' });
  } catch (e) {
    throw new UsageError(
      `${flag} ${file} cannot be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      'name a file in a folder you can write',
    );
  }
}
