// Lab parameters and variants: `{{ name }}` in the lab and in the files it uploads, set per named variant.
import { parse } from 'yaml';
import type { Diagnostic } from '../errors.ts';

export interface VariantInfo {
  defaults: Record<string, string>;
  variants: Record<string, Record<string, string>>;
}

const TEMPLATE = /\{\{\s*([a-z][a-z0-9_]*)\s*\}\}/g;

/** Reads `parameters:` and `variants:` from the raw text (they cannot themselves use templates). */
export function readVariantInfo(text: string): VariantInfo {
  let raw: any;
  try {
    raw = parse(text.replace(TEMPLATE, 'x'));
  } catch {
    return { defaults: {}, variants: {} };
  }
  const str = (o: unknown) =>
    Object.fromEntries(Object.entries(o && typeof o === 'object' ? o : {}).map(([k, v]) => [k, String(v)]));
  const variants: Record<string, Record<string, string>> = {};
  if (raw?.variants && typeof raw.variants === 'object')
    for (const [k, v] of Object.entries(raw.variants)) variants[k] = str(v);
  return { defaults: str(raw?.parameters), variants };
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
