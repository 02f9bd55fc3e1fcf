#!/usr/bin/env node
// The virtlab command: the compiled CLI (dist/) when it is newer than every source file, else the TypeScript
// sources through tsx (so an edit is never run stale). `npm run build` (run by npm ci) compiles. An installed
// package (npm i -g) has no tsx (a development dependency) and runs dist/, which npm pack built.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.stamp');

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function hasTsx() {
  try {
    import.meta.resolve('tsx/esm/api');
    return true;
  } catch {
    return false;
  }
}

if (existsSync(stamp) && (statSync(stamp).mtimeMs >= newest(join(root, 'src')) || !hasTsx())) {
  // the bundle (one module: faster to load) when the build made one
  const bundle = join(root, 'dist', 'virtlab.mjs');
  await import(pathToFileURL(existsSync(bundle) ? bundle : join(root, 'dist', 'cli', 'main.js')).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
}
