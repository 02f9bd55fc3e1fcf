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
  // the cache (guest images, downloads, libvirt's capabilities) can live apart from state and runs
  const cache = env.VIRTLAB_CACHE ?? join(root, 'cache');
  return { root, state: join(root, 'state'), runs: join(root, 'runs'), cache, images: join(cache, 'images') };
}
