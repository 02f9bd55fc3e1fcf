// npm run build, last step: the compiled CLI as one file, dist/virtlab.cjs, which bin/virtlab.js runs. Node then
// loads one script instead of ~250 modules (measured on the 2-core host: the modules of `virtlab run` 160 ms ->
// 65 ms), and as a script it can start from V8's code cache (bin/virtlab.js: another ~25 ms of each command's start).
// ssh2 stays a package of its own (it loads a native addon); files of the installation are found from
// src/host/package-root.ts, never relative to a module, so they resolve the same from the bundle.
import { rmSync } from 'node:fs';

const out = 'dist/virtlab.cjs';
rmSync('dist/virtlab.mjs', { force: true }); // the ES module bundle of earlier builds
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
    format: 'cjs',
    target: 'node20',
    outfile: out,
    external: ['ssh2'],
    // the modules' own URL (package-root.ts walks up from it; createRequire resolves from it) is the bundle's
    define: { 'import.meta.url': 'virtlabBundleUrl' },
    banner: { js: "const virtlabBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
    logLevel: 'warning',
  });
} catch (e) {
  // never a failed install for it: the compiled modules run instead (slower to load, the same behaviour)
  rmSync(out, { force: true });
  console.error(`bundle: not built (${e.message.split('\n')[0]}); bin/virtlab.js runs dist/cli/main.js`);
}
