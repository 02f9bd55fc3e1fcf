// A host-wide lock (mkdir is atomic) around allocating names, addresses and slots between concurrent runs.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HostError } from '../errors.ts';
import type { Home } from './home.ts';
import { pidExists } from './proc.ts';

export async function withHostLock<T>(h: Home, fn: () => Promise<T> | T, timeoutMs = 15000): Promise<T> {
  const dir = join(h.root, 'alloc.lock');
  mkdirSync(h.root, { recursive: true, mode: 0o700 });
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, 'pid'), String(process.pid));
      break;
    } catch {
      // a lock left by a dead process is stale
      let holder = NaN;
      try {
        holder = Number(readFileSync(join(dir, 'pid'), 'utf8'));
      } catch {
        /* being written */
      }
      if (Number.isInteger(holder) && !pidExists(holder)) rmSync(dir, { recursive: true, force: true });
      if (Date.now() > until)
        throw new HostError(`timed out waiting for the allocation lock ${dir} (held by pid ${holder})`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
