// argv -> typed options. No process.exit here: errors are UsageError.
import { UsageError } from '../errors.ts';
import { didYouMean } from '../lab/suggest.ts';

export const COMMANDS = [
  'run',
  'up',
  'down',
  'check',
  'reset',
  'explain',
  'graph',
  'matrix',
  'diff',
  'ssh',
  'status',
  'doctor',
  'list',
  'validate',
  'plan',
  'inventory',
  'provision',
  'help',
] as const;
export type Command = (typeof COMMANDS)[number];

export interface Options {
  command: Command;
  args: string[];
  /** argv after `--` (ssh) */
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
  provisioner?: string;
  targets?: string;
  help: boolean;
  version: boolean;
  /** down: drop a state file that cannot be used, removing nothing it lists */
  forceForget: boolean;
}

const BOOL: Record<string, keyof Options> = {
  '--keep': 'keep',
  '--json': 'json',
  '--verbose': 'verbose',
  '-v': 'verbose',
  '--dry-run': 'dryRun',
  '--all': 'all',
  '--help': 'help',
  '-h': 'help',
  '--version': 'version',
  '--force-forget': 'forceForget',
};
const VALUE: Record<string, keyof Options> = {
  '--provider': 'provider',
  '--report-dir': 'reportDir',
  '--until': 'until',
  '--name': 'name',
  '--variant': 'variant',
  '--to': 'to',
  '--format': 'format',
  '--out': 'out',
  '--report-format': 'reportFormat',
  '--inventory': 'inventory',
  '--kernel': 'kernel',
  '--targets': 'targets',
  '--provisioner': 'provisioner',
};

const PROVIDER = ['--provider', '--kernel', '--inventory'];
const RUN = [
  ...PROVIDER,
  '--provisioner',
  '--report-dir',
  '--report-format',
  '--keep',
  '--until',
  '--skip',
  '--name',
  '--variant',
  '--dry-run',
];
/** The options each command takes besides --json, --verbose, --no-color, --help (plan = run --dry-run). */
export const COMMAND_OPTIONS: Record<Command, string[]> = {
  run: RUN,
  plan: RUN,
  up: RUN.filter((f) => f !== '--keep' && f !== '--dry-run'),
  down: ['--all', '--force-forget'],
  check: ['--report-dir', '--report-format'],
  reset: ['--to', ...PROVIDER],
  explain: ['--variant'],
  graph: ['--format', '--out', '--variant'],
  matrix: ['--targets', '--report-dir', '--variant'],
  diff: [],
  ssh: [],
  status: [],
  doctor: [],
  list: [],
  validate: [],
  inventory: [],
  provision: ['--provisioner'],
  help: [],
};
const GLOBAL = ['--json', '--verbose', '-v', '--no-color', '--color', '--help', '-h', '--version'];

/** Every option given must be one the command takes: nothing is silently ignored. */
function checkOptions(command: Command, given: string[]): void {
  const allowed = COMMAND_OPTIONS[command];
  for (const flag of given) {
    if (GLOBAL.includes(flag) || allowed.includes(flag)) continue;
    const hint = allowed.length
      ? `${command} takes: ${allowed.join(', ')}`
      : `${command} takes no options but --json, --verbose and --no-color`;
    throw new UsageError(`${command} does not take ${flag}`, hint);
  }
}

export function parseArgs(argv: string[], env: Record<string, string | undefined> = process.env): Options {
  const o: Options = {
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
    help: false,
    version: false,
    forceForget: false,
  };
  const positional: string[] = [];
  const given: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      o.rest = argv.slice(i + 1);
      break;
    }
    const [flag, inline] =
      a.startsWith('--') && a.includes('=')
        ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
        : [a, undefined];
    if (flag.startsWith('-') && flag !== '-') given.push(flag);
    if (flag === '--no-color') o.color = false;
    else if (flag === '--color') o.color = true;
    else if (BOOL[flag]) (o as unknown as Record<string, unknown>)[BOOL[flag]!] = true;
    else if (VALUE[flag] || flag === '--skip') {
      const v = inline ?? argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      if (flag === '--skip') o.skip.push(v);
      else (o as unknown as Record<string, unknown>)[VALUE[flag]!] = v;
    } else if (a.startsWith('-') && a !== '-') {
      const known = [...Object.keys(BOOL), ...Object.keys(VALUE), '--skip', '--no-color'];
      const guess = didYouMean(flag, known);
      throw new UsageError(`unknown option ${flag}${guess ? `; did you mean ${guess}?` : ''}`, 'see virtlab --help');
    } else positional.push(a);
  }
  const first = positional[0];
  if (first === undefined) o.command = o.version ? 'help' : 'help';
  else if ((COMMANDS as readonly string[]).includes(first)) {
    o.command = first as Command;
    o.args = positional.slice(1);
  } else if (/^[a-z0-9][a-z0-9-]*$/.test(first) && !didYouMean(first, COMMANDS)) {
    // `npm run lab kvm-macvtap` is `virtlab run kvm-macvtap`
    o.command = 'run';
    o.args = positional;
  } else if (first.endsWith('.yml') || first.includes('/')) {
    o.command = 'run';
    o.args = positional;
  } else {
    const guess = didYouMean(first, COMMANDS);
    throw new UsageError(
      `unknown command "${first}"${guess ? `; did you mean "${guess}"?` : ''}`,
      'see virtlab --help',
    );
  }
  checkOptions(o.command, given);
  if (o.command === 'run' && o.dryRun) o.command = 'plan';
  return o;
}

export const HELP = `virtlab: KVM/libvirt networking labs as data, run on real libvirtd, QEMU, dnsmasq and sshd

Usage: virtlab <command> [options]      (npm run lab -- <command> ...; npm run lab <lab> = run <lab>)

Commands:
  run <lab>                 the whole lifecycle: preflight, up, provision, upload, setup, ready, assert,
                            collect (on failure), teardown (always, unless --keep)
  up <lab>                  bring the machines up and provision them; prints how to reach each machine
  down [<lab>] [--all]      remove everything a lab instance created (works after a crash or kill -9)
  check <lab>               run the assertions against a lab that is up (changes nothing); prints a score
  reset <lab> [--to <step>] bring a lab that is up back to a known step (default: where up --until left it)
  explain <lab>             the lab's walkthrough: each step, the exact command it runs, and why
  matrix <lab> --targets <file>
                            run the lab on every target (targets sharing no host at once); a table of
                            assertions x targets with versions, matrix.md, matrix.json and junit.xml.
                            A target: { provider: netns|vm|ssh, inventory: <file>, kernel: <package> }
                            (targets/kernels.yml: kvm-01 as a VM with kernel 6.1, then 6.12)
  diff <report-a> <report-b>
                            assertions that flipped and versions that differ between two runs
  graph <lab> [--format svg|mermaid|dot] [--out <file>]
                            the lab's topology (SVG written to <lab>.svg by default; text formats to stdout)
  ssh <lab> <machine> [-- cmd ...]
                            a shell on a machine, or one command
  provision <lab> [--provisioner builtin|ansible]
                            run the machines' playbooks again on a lab that is up (a second run changes nothing)
  inventory <lab>           an Ansible inventory of a lab that is up (addresses, the run's key, pinned host
                            keys, groups hypervisor(s) and peer(s)): ansible-playbook -i <(virtlab inventory x) ...
  status                    the lab instances that are up, their machines and age
  doctor                    check the host: root, kernel features, binaries (and the package for each)
  list                      the labs with a one-line description
  validate [<lab-or-file> ...]
                            check labs, machines.yml and playbooks (all when no argument)
  plan <lab>                the resolved plan (same as run --dry-run); creates nothing

Options:
  --provider <name>         machine provider: netns (default: machines are namespaces on this host), vm
                            (hypervisors are QEMU VMs with their own kernel, KVM inside them) or ssh
  --kernel <package>        vm provider: the Debian kernel hypervisor VMs boot (default linux-image-cloud-amd64;
                            also linux-image-6.12-cloud-amd64, or any linux-image-* package: added to the image)
  --inventory <file>        ssh provider: the existing hosts (address, user, key, pinned host key)
  --provisioner <who>       who runs the machines' playbooks: builtin (virtlab's Ansible subset; default unless
                            machines.yml says provisioner: ansible) or ansible (ansible-playbook; install-deps --ansible)
  --report-dir <dir>        where report.html, junit.xml, report.json and logs go (default: the run's folder)
  --report-format <list>    which reports: json,junit,html (default) and tap, comma-separated
  --keep                    leave the lab up after run (remove it later with virtlab down <lab>)
  --until <step-id>         stop setup before this step (the rest is left to you)
  --skip <step-id>          skip a setup step (repeatable)
  --name <instance>         run under a distinct instance name (the same lab twice at once)
  --variant <name>          run one variant of a lab that declares variants (default: all of them)
  --json                    machine-readable output (plan: the plan; run: a JSON event stream)
  --verbose, -v             show every command and its output
  --no-color                no colours (also when NO_COLOR is set or output is not a terminal)
  --help, -h                this text

Exit codes:
  0  all assertions passed (or the command succeeded)
  1  an assertion failed
  2  usage or definition error (bad command line, invalid lab / machines.yml / playbook)
  3  host, preflight or environment error (not root, missing binary, leak found after teardown)
  4  interrupted (SIGINT/SIGTERM); everything created was removed
  70 internal error (a bug): the trace is printed; a run still removes what it created

Environment:
  VIRTLAB_HOME   state, runs and caches (default /var/lib/virtlab)
  NO_COLOR       disable colours
`;
