// The one place where argv becomes a shell command line (the SSH edge): each argument lands as one literal word.

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function quoteArg(arg: string): string {
  if (arg.includes('\0')) throw new Error('an argument cannot contain a NUL byte');
  if (arg !== '' && SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(
  argv: readonly string[],
  opts: { env?: Record<string, string>; sudo?: boolean } = {},
): string {
  if (!argv.length) throw new Error('empty argv');
  const env = Object.entries(opts.env ?? {}).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`invalid environment variable name ${JSON.stringify(k)}`);
    return quoteArg(`${k}=${v}`);
  });
  const words = [
    ...(opts.sudo ? ['sudo', '-n', '--'] : []),
    ...(env.length ? ['env', ...env] : []),
    ...argv.map(quoteArg),
  ];
  return words.join(' ');
}
