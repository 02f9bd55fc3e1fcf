// Where virtlab keeps state, runs and caches on the control host.
import { existsSync, mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readConfig } from './config.ts';

export interface Home {
  root: string;
  state: string;
  runs: string;
  cache: string;
  images: string;
}

export function home(env: NodeJS.ProcessEnv = process.env): Home {
  // the cache (guest images, downloads, libvirt's capabilities) can live apart from state and runs
  const { home: root, cache } = readConfig(env);
  return { root, state: join(root, 'state'), runs: join(root, 'runs'), cache, images: join(cache, 'images') };
}

/** Whether state and runs can be written; the reason when not (checked in preflight, before anything is created). */
export function writableProblem(h: Home): string | undefined {
  const probe = join(h.root, `.write-test-${process.pid}`);
  try {
    if (!existsSync(h.root)) mkdirSync(h.root, { recursive: true, mode: 0o700 });
    writeFileSync(probe, '');
    unlinkSync(probe);
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'EROFS'
        ? 'read-only file system'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : (e as Error).message;
    return `cannot write state file ${join(h.state, '...')}: ${h.root} is not writable (${why})`;
  }
}
