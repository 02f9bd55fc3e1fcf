// Text from a lab or a machine (a hint, a guest's console, a command's output) is shown, never obeyed: control
// characters become visible escapes (\x1b[2J) before they reach a terminal or a report, so a lab or a guest
// cannot clear the screen, move the cursor or print fake results.

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** Control characters (all but newline and tab) as \xHH. */
export function visible(s: string): string {
  return s.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** One line: newlines and tabs escaped too. */
export function visibleLine(s: string): string {
  return visible(s).replace(/\n/g, '\\n').replace(/\t/g, '\\t');
}

/** Every string inside a value, made visible (an event before a reporter formats it). */
export function visibleDeep<T>(v: T): T {
  if (typeof v === 'string') return visible(v) as T;
  if (Array.isArray(v)) return v.map(visibleDeep) as T;
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, visibleDeep(x)])) as T;
  return v;
}
