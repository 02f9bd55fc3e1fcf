// Where virtlab keeps state, runs and caches on the control host.
import { join } from 'node:path';

export interface Home {
  root: string;
  state: string;
  runs: string;
  cache: string;
  images: string;
}

export function home(env: Record<string, string | undefined> = process.env): Home {
  const root = env.VIRTLAB_HOME ?? '/var/lib/virtlab';
  return { root, state: join(root, 'state'), runs: join(root, 'runs'), cache: join(root, 'cache'), images: join(root, 'cache', 'images') };
}
