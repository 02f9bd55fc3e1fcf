// The folder virtlab is installed in (package.json, schema/, scripts/, src/, dist/), found by walking up from this
// module's own file: the same answer from the sources (tsx), from dist/ and from the bundle (dist/virtlab.cjs),
// which sit at different depths. Every file of the installation is named from here, never relative to a module.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InternalError } from '../errors.ts';

function packageRootAbove(from: string): string {
  for (let d = from; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return d;
    if (dirname(d) === d) throw new InternalError(`no package.json above ${from} (a broken installation)`);
  }
}

export const PACKAGE_ROOT = packageRootAbove(dirname(fileURLToPath(import.meta.url)));

/** A file of the installation, e.g. packagePath('scripts', 'build-guest-image.sh'). */
export const packagePath = (...parts: string[]): string => join(PACKAGE_ROOT, ...parts);

/** True when this is the compiled code (dist/ or its bundle), false under tsx. */
export const COMPILED = !import.meta.url.endsWith('.ts');
