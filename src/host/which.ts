// Where a program is on this host's PATH (what a namespace machine runs is the host's own binary).
import { accessSync, constants } from 'node:fs';

const PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function which(bin: string): string | undefined {
  for (const d of PATH) {
    try {
      accessSync(`${d}/${bin}`, constants.X_OK);
      return `${d}/${bin}`;
    } catch {
      /* next */
    }
  }
  return undefined;
}
