// Lab parameters and variants: `{{ name }}` in the lab and in the files it uploads, set per named variant.
import { createHash } from 'node:crypto';
import { parse } from 'yaml';
import type { Diagnostic } from '../errors.ts';

export interface VariantInfo {
  defaults: Record<string, string>;
  variants: Record<string, Record<string, string>>;
  /** exercise.vary: the values each parameter may take per student */
  vary: Record<string, string[]>;
}

/**
 * Course mode: each student's values of the parameters an exercise varies, drawn reproducibly from the instance
 * name (two students differ, one student's reruns do not). The lab's own instance keeps the defaults.
 */
export function variedParams(vary: Record<string, string[]>, instance: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, values] of Object.entries(vary)) {
    if (!values.length) continue;
    const h = createHash('sha256').update(`${instance}\0${k}`).digest();
    out[k] = values[h.readUInt32BE(0) % values.length]!;
  }
  return out;
}

const TEMPLATE = /\{\{\s*([a-z][a-z0-9_]*)\s*\}\}/g;

// the top-level keys readVariantInfo reads (or a flow mapping at the top); a lab with none of them (most labs) is not
// parsed a second time
const VARIANT_KEYS = /^["']?(parameters|variants|exercise)["']?[ \t]*:|^[ \t]*\{/m;

/** Reads `parameters:` and `variants:` from the raw text (they cannot themselves use templates). */
export function readVariantInfo(text: string): VariantInfo {
  if (!VARIANT_KEYS.test(text)) return { defaults: {}, variants: {}, vary: {} };
  let raw: any;
  try {
    raw = parse(text.replace(TEMPLATE, 'x'));
  } catch {
    return { defaults: {}, variants: {}, vary: {} };
  }
  const str = (o: unknown) =>
    Object.fromEntries(Object.entries(o && typeof o === 'object' ? o : {}).map(([k, v]) => [k, String(v)]));
  const variants: Record<string, Record<string, string>> = {};
  if (raw?.variants && typeof raw.variants === 'object')
    for (const [k, v] of Object.entries(raw.variants)) variants[k] = str(v);
  const vary: Record<string, string[]> = {};
  if (raw?.exercise?.vary && typeof raw.exercise.vary === 'object')
    for (const [k, v] of Object.entries(raw.exercise.vary)) if (Array.isArray(v)) vary[k] = v.map(String);
  return { defaults: str(raw?.parameters), variants, vary };
}

export function paramsFor(info: VariantInfo, variant?: string): Record<string, string> {
  return { ...info.defaults, ...(variant ? info.variants[variant] : {}) };
}

/** Substitutes parameters; unknown names are reported with their line (substitution never adds lines). */
export function render(
  text: string,
  params: Record<string, string>,
  file: string,
): { text: string; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const out = text.replace(TEMPLATE, (all, name: string, offset: number) => {
    if (name in params) return params[name]!;
    const before = text.slice(0, offset);
    diagnostics.push({
      file,
      line: before.split('\n').length,
      col: offset - before.lastIndexOf('\n'),
      message: `unknown parameter {{ ${name} }}`,
      hint: Object.keys(params).length
        ? `parameters: ${Object.keys(params).join(', ')}`
        : 'declare it under "parameters:"',
    });
    return all;
  });
  return { text: out, diagnostics };
}

export function hasTemplates(text: string): boolean {
  return new RegExp(TEMPLATE.source).test(text);
}
