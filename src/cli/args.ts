// argv -> typed options, by commander from the command table (commands.ts): per-command options and help, strict
// options, did-you-mean for commands and options. No process.exit here: errors are UsageError.
import { CommanderError, Option, Command as Program } from 'commander';
import { UsageError } from '../errors.ts';
import { didYouMean } from '../lab/suggest.ts';
import { COMMAND_DEFS, COMMANDS, type Command, GLOBAL_OPTIONS, OPTIONS } from './commands.ts';

export { COMMANDS, type Command } from './commands.ts';

export interface Options {
  command: Command;
  args: string[];
  /** argv after `--` (ssh, exec) */
  rest: string[];
  provider?: string;
  reportDir?: string;
  keep: boolean;
  json: boolean;
  verbose: boolean;
  color: boolean;
  until?: string;
  skip: string[];
  dryRun: boolean;
  all: boolean;
  name?: string;
  variant?: string;
  to?: string;
  format?: string;
  out?: string;
  reportFormat?: string;
  inventory?: string;
  kernel?: string;
  image?: string;
  provisioner?: string;
  targets?: string;
  project?: string;
  machines?: string;
  guest?: string;
  write?: string;
  count?: string;
  log: boolean;
  olderThan?: string;
  /** prune: remove the VM machines' saved states */
  snapshots?: boolean;
  /** run / matrix: the baseline figures are judged against */
  baseline?: string;
  /** matrix: i/n, the targets of one shard */
  shard?: string;
  /** ci: jobs per lab, each a shard */
  shards?: string;
  /** bisect: the assertion to follow */
  assertion?: string;
  /** up --until: print the commands of the steps left to the student (for a teacher) */
  showSolution: boolean;
  /** up --break: a break-fix exercise */
  break: boolean;
  /** up / down --class <file>: one instance per student */
  class?: string;
  /** reset: the checkpoint to go back to */
  toCheckpoint?: string;
  /** ssh-config / up --class: a student's hand-out folder (per student under it for a class) */
  handout?: string;
  help: boolean;
  version: boolean;
  /** down: drop a state file that cannot be used, removing nothing it lists */
  forceForget: boolean;
  /** down: the instances whose run ended without its teardown */
  stale: boolean;
}

/** The options each command takes besides the global ones (plan = run --dry-run). */
export const COMMAND_OPTIONS = Object.fromEntries(COMMANDS.map((c) => [c, COMMAND_DEFS[c].options])) as Record<
  Command,
  string[]
>;

/** One commander command for a command of the table; its action records what was given. */
function commandFor(name: Command, into: { args: string[]; opts: Record<string, unknown> }): Program {
  const def = COMMAND_DEFS[name];
  const cmd = new Program(name).description(def.summary).helpOption('-h, --help', 'this help');
  for (const a of def.args) cmd.argument(a);
  for (const flag of def.options) {
    const o = OPTIONS[flag]!;
    const opt = new Option(o.flags, o.description);
    if (o.repeatable) opt.argParser((v: string, prev: string[] = []) => [...prev, v]);
    cmd.addOption(opt);
  }
  for (const g of GLOBAL_OPTIONS) cmd.addOption(new Option(g.flags, g.description));
  cmd.allowExcessArguments(false);
  cmd.exitOverride();
  cmd.configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} });
  cmd.action((...a: unknown[]) => {
    // commander passes the arguments, then the options, then the command
    into.opts = (a[a.length - 2] ?? {}) as Record<string, unknown>;
    into.args = a.slice(0, -2).flatMap((x) => (x === undefined ? [] : Array.isArray(x) ? x.map(String) : [String(x)]));
  });
  return cmd;
}

/** What a user typed, as the command it names: `virtlab <lab>` is `virtlab run <lab>`. */
function commandOf(words: string[]): { command: Command; rest: string[] } | undefined {
  const i = words.findIndex((w) => !w.startsWith('-') || w === '-');
  if (i < 0) return undefined;
  const first = words[i]!;
  if ((COMMANDS as readonly string[]).includes(first))
    return { command: first as Command, rest: [...words.slice(0, i), ...words.slice(i + 1)] };
  if (/^[a-z0-9][a-z0-9-]*$/.test(first) && !didYouMean(first, COMMANDS)) return { command: 'run', rest: words };
  if (first.endsWith('.yml') || first.endsWith('.yaml') || first.includes('/')) return { command: 'run', rest: words };
  const guess = didYouMean(first, COMMANDS);
  throw new UsageError(`unknown command "${first}"${guess ? `; did you mean "${guess}"?` : ''}`, 'see virtlab --help');
}

function blank(env: Record<string, string | undefined>): Options {
  return {
    command: 'help',
    args: [],
    rest: [],
    keep: false,
    json: false,
    verbose: false,
    color: !env.NO_COLOR && !!process.stdout.isTTY,
    skip: [],
    dryRun: false,
    all: false,
    log: false,
    showSolution: false,
    break: false,
    help: false,
    version: false,
    forceForget: false,
    stale: false,
  };
}

export function parseArgs(argv: string[], env: Record<string, string | undefined> = process.env): Options {
  const o = blank(env);
  const dash = argv.indexOf('--');
  const words = dash < 0 ? argv : argv.slice(0, dash);
  o.rest = dash < 0 ? [] : argv.slice(dash + 1);
  o.version = words.includes('--version');
  o.help = words.includes('--help') || words.includes('-h');
  const named = commandOf(words.filter((w) => w !== '--version'));
  if (!named) return o;
  o.command = named.command;
  if (o.help) return o;
  const got: { args: string[]; opts: Record<string, unknown> } = { args: [], opts: {} };
  try {
    commandFor(o.command, got).parse(named.rest, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) throw usageError(e, o.command, named.rest);
    throw e;
  }
  o.args = got.args;
  // commander gives --no-color a default of true: colour stays what the terminal and NO_COLOR say unless turned off
  for (const [k, v] of Object.entries(got.opts)) if (k !== 'color') (o as unknown as Record<string, unknown>)[k] = v;
  if (got.opts.color === false) o.color = false;
  if (o.command === 'run' && o.dryRun) o.command = 'plan';
  return o;
}

/** commander's errors in virtlab's words: what is wrong, and what would be right. */
function usageError(e: CommanderError, command: Command, words: string[]): UsageError {
  const usage = `usage: virtlab ${command} ${COMMAND_DEFS[command].args.join(' ')}`.trimEnd();
  const flag = /'(-[^' ]+)/.exec(e.message)?.[1] ?? '';
  switch (e.code) {
    case 'commander.unknownOption': {
      const allowed = COMMAND_DEFS[command].options;
      if (flag in OPTIONS || flag === '-w' || flag === '-c') {
        const hint = allowed.length
          ? `${command} takes: ${allowed.join(', ')}`
          : `${command} takes no options but --json, --verbose and --no-color`;
        return new UsageError(`${command} does not take ${flag}`, hint);
      }
      const guess = didYouMean(flag, [...allowed, '--json', '--verbose', '--no-color', '--help']);
      return new UsageError(
        `unknown option ${flag}${guess ? `; did you mean ${guess}?` : ''}`,
        `see virtlab ${command} --help`,
      );
    }
    case 'commander.optionMissingArgument':
      return new UsageError(`${flag.split(',')[0]} needs a value`, `see virtlab ${command} --help`);
    case 'commander.missingArgument': {
      const arg = /'([^']+)'/.exec(e.message)?.[1] ?? 'an argument';
      return new UsageError(`${command} needs <${arg}>`, usage);
    }
    case 'commander.excessArguments':
      return new UsageError(
        `${command} takes ${COMMAND_DEFS[command].args.length || 'no'} argument(s), not "${words.join(' ')}"`,
        usage,
      );
    default:
      return new UsageError(e.message.replace(/^error: /, ''), usage);
  }
}

/** `virtlab <command> --help`: its usage, arguments, options and an example. */
export function helpFor(command: Command): string {
  if (command === 'help') return HELP;
  const got = { args: [] as string[], opts: {} };
  const cmd = commandFor(command, got);
  const text = cmd.helpInformation().replace(/^Usage: /, 'Usage: virtlab ');
  const details = COMMAND_DEFS[command].details;
  const plan = command === 'plan' ? '\n(virtlab plan is virtlab run --dry-run)\n' : '';
  return `${text}${details ? `\n${details}\n` : ''}${plan}`;
}

const VERSION = '0.1.0';
export const versionText = () => `virtlab ${VERSION}`;

export const HELP = (() => {
  const w = Math.max(...COMMANDS.map((c) => `${c} ${COMMAND_DEFS[c].args.join(' ')}`.length));
  const lines = COMMANDS.filter((c) => c !== 'help').map(
    (c) => `  ${`${c} ${COMMAND_DEFS[c].args.join(' ')}`.padEnd(w)}  ${COMMAND_DEFS[c].summary}`,
  );
  return `virtlab: KVM/libvirt networking labs as data, run on real libvirtd, QEMU, dnsmasq and sshd

Usage: virtlab <command> [options]      (npm run lab -- <command> ...; npm run lab <lab> = run <lab>)
       virtlab <command> --help         a command's own options, and an example

Commands:
${lines.join('\n')}

Options of every command:
  --json             machine-readable output (a JSON event stream for run and up)
  -v, --verbose      show every command with its machine, exit code, duration and output
  --no-color         no colours (also when NO_COLOR is set or output is not a terminal)
  -h, --help         help (virtlab help <command> for one command)
  --version          virtlab's version

Exit codes:
  0  all assertions passed (or the command succeeded)
  1  an assertion failed
  2  usage or definition error (bad command line, invalid lab / machines.yml / playbook)
  3  host, preflight or environment error (not root, missing binary, leak found after teardown)
  4  interrupted (SIGINT/SIGTERM); everything created was removed
  70 internal error (a bug): the trace is printed; a run still removes what it created

Environment: every VIRTLAB_* variable is listed by virtlab doctor and in the README; NO_COLOR disables colours.
`;
})();
