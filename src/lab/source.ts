// A parsed YAML file that remembers where every value came from, so any problem can be reported as file:line:col.
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { relative, resolve as resolvePath } from 'node:path';
import { type Document, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { Diagnostic } from '../errors.ts';
import type { Path } from './model.ts';

export interface Source {
  /** Path as shown to the user (relative to the working directory when shorter). */
  file: string;
  text: string;
  doc: Document;
  lines: LineCounter;
  data: unknown;
}

export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && rel.length < file.length ? rel : file;
}

/** Reads and parses a YAML file; returns diagnostics instead of throwing for anything the user can fix. */
export type Transform = (text: string, file: string) => { text: string; diagnostics: Diagnostic[] };

/** The largest lab, machines.yml, playbook or lab file virtlab reads (a lab is a few KiB). */
export const MAX_FILE_MIB = 4;
/** YAML aliases a file may expand (anchors are for reuse; thousands of them are an attack). */
export const MAX_ALIASES = 100;

/** The paths looked at while recordPaths runs (what a resolved lab depends on: lab/resolved-cache.ts). */
let looked: Set<string> | undefined;

/** Runs fn and says which paths the definitions' readers (below) looked at meanwhile. */
export function recordPaths<T>(fn: () => T): { value: T; paths: string[] } {
  const outer = looked;
  looked = new Set();
  try {
    const value = fn();
    return { value, paths: [...looked] };
  } finally {
    // a recording inside another: what the inner one looked at, the outer one looked at too
    const inner = looked;
    looked = outer;
    if (outer) for (const p of inner) outer.add(p);
  }
}

const look = (path: string) => looked?.add(resolvePath(path));

/** Whether a path exists (a definition's reader's question, recorded like the others). */
export function pathExists(path: string): boolean {
  look(path);
  return existsSync(path);
}

/** Why a path cannot be read as a definition: not there, not a regular file, or too large. */
export function fileProblem(path: string): string | undefined {
  look(path);
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
  }
  if (st.isDirectory()) return 'is a folder, not a file';
  if (!st.isFile()) return 'is not a regular file (a device, socket or FIFO): refused';
  if (st.size > MAX_FILE_MIB * 1048576)
    return `is ${(st.size / 1048576).toFixed(1)} MiB; the limit is ${MAX_FILE_MIB} MiB`;
  return undefined;
}

/** A lab file's text, or undefined when it cannot be read within the limits. */
export function readTextFile(path: string): string | undefined {
  if (fileProblem(path)) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Flow collections ([ and {) nested this deep are an attack on the parser, not a lab. */
export const MAX_DEPTH = 64;

/** The offset where flow collections nest deeper than MAX_DEPTH (outside quotes and comments), if anywhere. */
function tooDeep(text: string): number | undefined {
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') i++;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!)))
      i = text.indexOf('\n', i) < 0 ? text.length : text.indexOf('\n', i);
    else if (c === '[' || c === '{') {
      if (++depth > MAX_DEPTH) return i;
    } else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
    else if (c === '\n' && depth === 0) quote = undefined;
  }
  return undefined;
}

/** What a path is, following links (its real path and type); undefined when it does not exist. */
export function statPath(path: string): { real: string; type: 'file' | 'dir' | 'other' } | undefined {
  look(path);
  try {
    const st = statSync(path);
    return { real: realpathSync(path), type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other' };
  } catch {
    return undefined;
  }
}

export function readSource(
  path: string,
  yamlVersion: '1.1' | '1.2' = '1.2',
  transform?: Transform,
): { source?: Source; diagnostics: Diagnostic[] } {
  const file = displayPath(path);
  const problem = fileProblem(path);
  if (problem) return { diagnostics: [{ file, line: 1, col: 1, message: `cannot read: ${problem}` }] };
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    return { diagnostics: [{ file, line: 1, col: 1, message: `cannot read: ${(e as Error).message}` }] };
  }
  return parseSource(file, bytes, yamlVersion, transform);
}

export function parseSource(
  file: string,
  bytes: Buffer,
  yamlVersion: '1.1' | '1.2' = '1.2',
  transform?: Transform,
): { source?: Source; diagnostics: Diagnostic[] } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const bad = firstInvalidUtf8(bytes);
    const before = bytes.subarray(0, bad).toString('utf8');
    const line = before.split('\n').length;
    const col = before.length - before.lastIndexOf('\n');
    return {
      diagnostics: [
        {
          file,
          line,
          col,
          message: `the file is not valid UTF-8 (byte 0x${bytes[bad]?.toString(16).padStart(2, '0')} at offset ${bad})`,
          hint: 'save the file as UTF-8',
        },
      ],
    };
  }
  if (transform) {
    const t = transform(text, file);
    if (t.diagnostics.length) return { diagnostics: t.diagnostics };
    text = t.text;
  }
  if (text.trim() === '' || text.split('\n').every((l) => l.trim() === '' || l.trim().startsWith('#'))) {
    return { diagnostics: [{ file, line: 1, col: 1, message: 'the file is empty' }] };
  }
  const deep = tooDeep(text);
  if (deep !== undefined) {
    const before = text.slice(0, deep);
    const [line, col] = [before.split('\n').length, deep - before.lastIndexOf('\n')];
    return { diagnostics: [{ file, line, col, message: `YAML nesting deeper than ${MAX_DEPTH} levels: refused` }] };
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, version: yamlVersion });
  const diagnostics: Diagnostic[] = doc.errors.map((err) => {
    const pos = lines.linePos(err.pos[0]);
    const first = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    const why = /call stack/i.test(first) ? 'the nesting is too deep' : first;
    return { file, line: pos.line, col: pos.col, message: `YAML syntax error: ${why}` };
  });
  if (diagnostics.length) return { diagnostics };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (e) {
    // the yaml library refuses to expand an alias bomb (and a merge that refers to itself)
    const message = /alias/i.test((e as Error).message)
      ? `YAML aliases expand too far (the limit is ${MAX_ALIASES} alias expansions): refused`
      : `YAML cannot be read: ${(e as Error).message}`;
    return { diagnostics: [{ file, line: 1, col: 1, message }] };
  }
  return { source: { file, text, doc, lines, data }, diagnostics: [] };
}

function firstInvalidUtf8(bytes: Buffer): number {
  for (let i = 0; i < bytes.length; i++) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, i + 1));
    } catch {
      // a multi-byte sequence may simply be cut: confirm by decoding a few bytes more
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, Math.min(bytes.length, i + 4)));
      } catch {
        return i;
      }
    }
  }
  return 0;
}

/** Position of the value at `path` (or of its key when `key` is set); falls back to the nearest existing parent. */
export function locate(source: Source, path: Path, opts: { key?: boolean } = {}): { line: number; col: number } {
  let node: unknown = source.doc.contents;
  let keyNode: unknown;
  let last: unknown = node;
  for (const seg of path) {
    keyNode = undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      keyNode = pair.key;
      node = pair.value ?? pair.key;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) break;
      node = item;
    } else break;
    last = node;
  }
  const target = (opts.key && keyNode ? keyNode : last) as Node | undefined;
  const offset = target?.range?.[0] ?? 0;
  const pos = source.lines.linePos(offset);
  return { line: pos.line, col: pos.col };
}

export function diag(
  source: Source,
  path: Path,
  message: string,
  hint?: string,
  opts: { key?: boolean } = {},
): Diagnostic {
  const { line, col } = locate(source, path, opts);
  return { file: source.file, line, col, message, ...(hint ? { hint } : {}) };
}
