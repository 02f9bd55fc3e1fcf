#!/usr/bin/env node
// The virtlab command: the compiled CLI (dist/) when it is newer than every source file, else the TypeScript
// sources through tsx (so an edit is never run stale). `npm run build` (run by npm ci) compiles. An installed
// package (npm i -g) has no tsx (a development dependency) and runs dist/, which npm pack built.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Script } from 'node:vm';

// bin/virtlab handed node's CA file over under another name (node would parse it at start): child processes get it back
if (process.env.VIRTLAB_EXTRA_CA_CERTS && !process.env.NODE_EXTRA_CA_CERTS)
  process.env.NODE_EXTRA_CA_CERTS = process.env.VIRTLAB_EXTRA_CA_CERTS;

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

/** A folder or file only this user can write (anything else could hand this process code to run). */
function private_(path) {
  const st = statSync(path, { throwIfNoEntry: false });
  return !!st && st.uid === process.getuid() && (st.mode & 0o022) === 0;
}

/**
 * The bundle, started from V8's code cache: the compiled code of the functions the last command of the same name ran
 * (the start of `virtlab run` ~25 ms sooner). Kept in virtlab's cache folder per bundle (path, size, time), Node
 * version and command; V8 itself refuses a cache that does not fit its source (then it is made again). Only a cache
 * this user alone can write is read, and nothing breaks without one.
 */
function runBundle(file) {
  const source = readFileSync(file, 'utf8');
  const st = statSync(file);
  const cacheDir = join(process.env.VIRTLAB_CACHE || join(process.env.VIRTLAB_HOME || '/var/lib/virtlab', 'cache'), 'v8');
  const build = createHash('sha256')
    .update(`${file}\0${st.size}\0${st.mtimeMs}\0${process.version}\0${process.arch}`)
    .digest('hex')
    .slice(0, 16);
  const command = /^[a-z][a-z-]{0,20}$/.test(process.argv[2] ?? '') ? process.argv[2] : 'other';
  const cacheFile = join(cacheDir, `virtlab-${build}-${command}.bin`);
  let cachedData;
  try {
    if (private_(cacheDir) && private_(cacheFile)) cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    cachedData,
  });
  if (!cachedData || script.cachedDataRejected) process.once('exit', () => saveCodeCache(script, cacheDir, cacheFile, build));
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
}

function saveCodeCache(script, dir, file, build) {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!private_(dir)) return;
    // another build's caches are of no use any more
    for (const n of readdirSync(dir)) if (n.startsWith('virtlab-') && !n.startsWith(`virtlab-${build}-`)) rmSync(join(dir, n), { force: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    /* a read-only or full disk: the next command compiles again */
  }
}

if (existsSync(stamp) && (statSync(stamp).mtimeMs >= newest(join(root, 'src')) || !hasTsx())) {
  // the bundle (one script: faster to load) when the build made one
  const bundle = join(root, 'dist', 'virtlab.cjs');
  if (existsSync(bundle)) runBundle(bundle);
  else await import(pathToFileURL(join(root, 'dist', 'cli', 'main.js')).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
}
