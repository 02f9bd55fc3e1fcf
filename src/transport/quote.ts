// The one place where argv becomes a shell command line (the SSH edge): each argument lands as one literal word.
import { InternalError } from '../errors.ts';

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function quoteArg(arg: string): string {
  if (arg.includes('\0')) throw new InternalError('an argument cannot contain a NUL byte');
  if (arg !== '' && SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(
  argv: readonly string[],
  opts: { env?: Record<string, string>; sudo?: boolean } = {},
): string {
  if (!argv.length) throw new InternalError('empty argv');
  const env = Object.entries(opts.env ?? {}).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      throw new InternalError(`invalid environment variable name ${JSON.stringify(k)}`);
    return quoteArg(`${k}=${v}`);
  });
  const words = [
    ...(opts.sudo ? ['sudo', '-n', '--'] : []),
    ...(env.length ? ['env', ...env] : []),
    ...argv.map(quoteArg),
  ];
  return words.join(' ');
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the characters $'...' has to escape
const ESCAPED = /[\\'\u0000-\u001f\u007f-\u009f]/g;

/**
 * An argument as a person should see and paste it: like quoteArg, but control characters (an escape sequence, a
 * newline) are written as bash's $'\x1b' so that nothing reaches the terminal raw and a paste into bash gives back
 * exactly the argument.
 */
export function displayArg(arg: string): string {
  if (!CONTROL.test(arg)) return quoteArg(arg);
  // one pass over the string (a script or a file's content can be long): only what needs escaping is touched
  const body = arg.replace(ESCAPED, (c) => {
    if (c === '\\' || c === "'") return `\\${c}`;
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
  return `$'${body}'`;
}

/** A command line to show (and paste into bash): every argument one word, nothing raw on the terminal. */
export function displayLine(argv: readonly string[]): string {
  return argv.map(displayArg).join(' ');
}
