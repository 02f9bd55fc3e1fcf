// npm run build, last step: the compiled CLI as one file, dist/virtlab.mjs, which bin/virtlab.js runs. Node then
// loads one module instead of ~250 (measured on the 2-core host: the modules of `virtlab run` 160 ms -> 65 ms).
// ssh2 stays a package of its own (it loads a native addon); files of the installation are found from
// src/host/package-root.ts, never relative to a module, so they resolve the same from the bundle.
import { rmSync } from 'node:fs';

const out = 'dist/virtlab.mjs';
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  // an install without the development dependencies: dist/cli/main.js runs instead
  rmSync(out, { force: true });
  console.error('bundle: esbuild is not installed; bin/virtlab.js runs dist/cli/main.js');
  process.exit(0);
}
try {
  await esbuild.build({
    entryPoints: ['dist/cli/main.js'],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: out,
    external: ['ssh2'],
    // CommonJS packages inside an ES module bundle call require
    banner: { js: "import { createRequire as virtlabRequire } from 'node:module'; const require = virtlabRequire(import.meta.url);" },
    logLevel: 'warning',
  });
} catch (e) {
  // never a failed install for it: the compiled modules run instead (slower to load, the same behaviour)
  rmSync(out, { force: true });
  console.error(`bundle: not built (${e.message.split('\n')[0]}); bin/virtlab.js runs dist/cli/main.js`);
}
