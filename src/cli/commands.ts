// The command table: every command with its arguments, summary and options, and every option once. The parser,
// the help texts and the shell completion are all made from it (args.ts, completion.ts).

export const COMMANDS = [
  'run',
  'up',
  'down',
  'check',
  'reset',
  'provision',
  'status',
  'ssh',
  'exec',
  'ssh-config',
  'inventory',
  'console',
  'capture',
  'explain',
  'plan',
  'graph',
  'matrix',
  'diff',
  'merge',
  'ci',
  'bisect',
  'baseline',
  'runs',
  'prune',
  'list',
  'validate',
  'init',
  'doctor',
  'completion',
  'help',
] as const;
export type Command = (typeof COMMANDS)[number];

export interface OptionDef {
  /** as commander reads it: '--report-dir <dir>', '-v, --verbose' */
  flags: string;
  description: string;
  /** may be given more than once (values collected in order) */
  repeatable?: boolean;
}

/** Every option, by its long name. */
export const OPTIONS: Record<string, OptionDef> = {
  '--provider': {
    flags: '--provider <name>',
    description: 'machine provider: netns (default: namespaces on this host), vm (hypervisors as QEMU VMs) or ssh',
  },
  '--kernel': { flags: '--kernel <package>', description: 'vm provider: the Debian kernel hypervisor VMs boot' },
  '--image': {
    flags: '--image <suite>',
    description: 'vm provider: the Debian suite VM machines are built from (bookworm, bookworm-backports, trixie)',
  },
  '--inventory': { flags: '--inventory <file>', description: 'ssh provider: the existing hosts' },
  '--provisioner': {
    flags: '--provisioner <who>',
    description: "who runs the machines' playbooks: builtin (virtlab's Ansible subset) or ansible (ansible-playbook)",
  },
  '--report-dir': { flags: '--report-dir <dir>', description: 'where report.html, junit.xml and report.json go' },
  '--report-format': { flags: '--report-format <list>', description: 'json,junit,html (default) and tap' },
  '--keep': { flags: '--keep', description: 'leave the lab up after the run (virtlab down <lab> removes it)' },
  '--until': { flags: '--until <step-id>', description: 'stop the setup before this step (the rest is left to you)' },
  '--skip': { flags: '--skip <step-id>', description: 'skip a setup step (repeatable)', repeatable: true },
  '--name': { flags: '--name <instance>', description: 'a distinct instance name (the same lab twice at once)' },
  '--variant': { flags: '--variant <name>', description: 'one variant of a lab that declares variants' },
  '--dry-run': { flags: '--dry-run', description: 'print the plan; create nothing (= virtlab plan)' },
  '--all': { flags: '--all', description: 'every instance (down) or every machine (exec)' },
  '--force-forget': {
    flags: '--force-forget',
    description: 'drop a state file that cannot be used, removing nothing it lists',
  },
  '--stale': {
    flags: '--stale',
    description:
      'down: every instance whose run ended without its teardown (a crash, kill -9, a reboot); kept ones stay',
  },
  '--to': { flags: '--to <step-id>', description: 'the step to go back to (default: where up --until stopped)' },
  '--format': { flags: '--format <format>', description: 'graph: svg (default), mermaid or dot' },
  '--out': { flags: '--out <file>', description: 'where to write the output' },
  '--targets': { flags: '--targets <file>', description: 'the targets of a matrix (YAML)' },
  '--project': {
    flags: '--project <dir>',
    description: 'the project folder (labs/, machines.yml, playbooks/); default: the current folder if it has labs/',
  },
  '--machines': { flags: '--machines <list>', description: 'exec: the machines, comma-separated' },
  '--guest': { flags: '--guest <name>', description: 'capture: the guest whose host-side device to capture on' },
  '--write': { flags: '-w, --write <file>', description: 'capture: write pcap to a file (- for stdout)' },
  '--count': { flags: '-c, --count <packets>', description: 'capture: stop after this many packets' },
  '--log': { flags: '--log', description: "console: print what the guest's console said since boot, and exit" },
  '--to-checkpoint': {
    flags: '--to-checkpoint <n>',
    description: "reset: back to where the exercise's checkpoint n (a number or its name) starts",
  },
  '--handout': {
    flags: '--handout <dir>',
    description: "ssh-config / up --class: write a student's folder (key, host keys, ssh_config) to hand out",
  },
  '--class': {
    flags: '--class <file>',
    description: 'up / down / check: one instance per student named in the file (one name per line)',
  },
  '--break': {
    flags: '--break',
    description:
      "up: put the exercise's faults (drawn for this instance) into the lab once it is up: a break-fix exercise",
  },
  '--show-solution': {
    flags: '--show-solution',
    description: "up --until: also print the commands of the steps left to the student (a teacher's copy)",
  },
  '--baseline': {
    flags: '--baseline <name>',
    description:
      'judge measured figures (throughput, RTT) against a saved baseline (baselines/<name>.json); a regression fails',
  },
  '--shard': {
    flags: '--shard <i/n>',
    description: 'matrix: only every n-th target from the i-th on (1/3, 2/3, 3/3: one CI job each); merge joins them',
  },
  '--shards': {
    flags: '--shards <n>',
    description: 'ci: n jobs per lab, each running one shard of the targets (default: one job per lab and target)',
  },
  '--assertion': {
    flags: '--assertion <id>',
    description: "bisect: follow one assertion's status instead of the lab's result",
  },
  '--older-than': { flags: '--older-than <age>', description: 'prune: runs older than this (30m, 12h, 7d)' },
  '--snapshots': {
    flags: '--snapshots',
    description:
      "prune: remove the VM machines' saved states (each image, kernel and machine shape boots once more, and saves a new one); never one a VM that is up started from",
  },
};

/** Options every command takes. */
export const GLOBAL_OPTIONS: OptionDef[] = [
  { flags: '--json', description: 'machine-readable output (a JSON event stream for run and up)' },
  { flags: '-v, --verbose', description: 'show every command with its machine, exit code, duration and output' },
  { flags: '--no-color', description: 'no colours (also when NO_COLOR is set or the output is not a terminal)' },
];

export interface CommandDef {
  /** arguments as commander reads them: '<lab>', '[instance...]' */
  args: string[];
  summary: string;
  /** more text for `virtlab <command> --help` */
  details?: string;
  options: string[];
  /** touches machines or the state folder */
  root?: boolean;
}

const PROVIDER = ['--provider', '--kernel', '--image', '--inventory'];
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
  '--project',
];

export const COMMAND_DEFS: Record<Command, CommandDef> = {
  run: {
    args: ['<lab>'],
    summary: 'the whole lifecycle: preflight, up, provision, upload, setup, ready, assert, collect, teardown',
    details:
      '<lab> is a lab name (labs/<lab>.yml of the project) or a path to a lab file. Teardown always runs, unless --keep.',
    options: [...RUN, '--baseline'],
    root: true,
  },
  up: {
    args: ['<lab>'],
    summary: 'bring the machines up, provision them and run the setup; the lab stays up',
    details:
      'virtlab up kvm-macvtap --until net-define hands the rest of the lab to a student: the steps left, without their commands',
    options: [
      ...RUN.filter((f) => f !== '--keep' && f !== '--dry-run'),
      '--show-solution',
      '--break',
      '--class',
      '--handout',
    ],
    root: true,
  },
  down: {
    args: ['[instance...]'],
    summary: 'remove everything a lab instance created (also after a crash or kill -9)',
    options: ['--all', '--stale', '--force-forget', '--class'],
    root: true,
  },
  check: {
    args: ['<lab>'],
    summary: 'run the assertions against a lab that is up (changes nothing); prints a score',
    details:
      'virtlab check kvm-macvtap --class students.txt --report-dir grades/   grades each student: a class table (--all: every instance of the lab that is up)',
    options: ['--report-dir', '--report-format', '--all', '--class'],
    root: true,
  },
  reset: {
    args: ['<lab>'],
    summary: 'bring a lab that is up back to a known step',
    options: ['--to', '--to-checkpoint', ...PROVIDER],
    root: true,
  },
  provision: {
    args: ['<lab>'],
    summary: "run the machines' playbooks again on a lab that is up (a second run changes nothing)",
    options: ['--provisioner'],
    root: true,
  },
  status: {
    args: ['[instance...]'],
    summary: 'the lab instances that are up: machines, networks, guests with IP, MAC and lease, age',
    options: [],
    root: true,
  },
  ssh: {
    args: ['<lab>', '<machine>'],
    summary: 'a shell on a machine, or one command after --',
    details: 'virtlab ssh kvm-macvtap kvm-01 -- virsh list --all',
    options: [],
    root: true,
  },
  exec: {
    args: ['<lab>'],
    summary: 'run one command (after --) on every machine (--all) or some (--machines), output prefixed',
    details: 'virtlab exec kvm-macvtap --all -- ip -br addr',
    options: ['--all', '--machines'],
    root: true,
  },
  'ssh-config': {
    args: ['<lab>'],
    summary: 'an OpenSSH config for a lab that is up: plain ssh, scp and Ansible reach its machines',
    details: 'virtlab ssh-config kvm-macvtap > lab.conf; ssh -F lab.conf kvm-01',
    options: ['--handout'],
    root: true,
  },
  inventory: {
    args: ['<lab>'],
    summary: "an Ansible inventory of a lab that is up (addresses, the run's key, pinned host keys, groups by role)",
    options: [],
    root: true,
  },
  console: {
    args: ['<lab>', '<guest>'],
    summary: "a guest's serial console, interactive (Ctrl-] leaves); --log prints what it said since boot",
    options: ['--log'],
    root: true,
  },
  capture: {
    args: ['<lab>', '<machine>', '[device]'],
    summary: "tcpdump on a machine's NIC or device, or a guest's host-side device (--guest); pcap with -w",
    details: 'virtlab capture kvm-macvtap remote-01 eth1 -w - | wireshark -k -i -',
    options: ['--guest', '--write', '--count'],
    root: true,
  },
  explain: {
    args: ['<lab>'],
    summary: "the lab's walkthrough: each step, the exact command it runs, and why",
    details: "virtlab explain kvm-macvtap --name alice   a student's own values, when the exercise varies them",
    options: ['--variant', '--project', '--name'],
  },
  plan: {
    args: ['<lab>'],
    summary: 'the resolved plan (= run --dry-run); creates nothing',
    options: RUN,
  },
  graph: {
    args: ['<lab>'],
    summary: "the lab's topology: SVG (default, written to <lab>.svg), Mermaid or DOT",
    options: ['--format', '--out', '--variant', '--project'],
  },
  matrix: {
    args: ['<lab>'],
    summary: 'run the lab on every target; a table of assertions x targets with versions',
    options: ['--targets', '--report-dir', '--variant', '--project', '--baseline', '--shard'],
    root: true,
  },
  diff: {
    args: ['<report-a>', '<report-b>'],
    summary: 'assertions that flipped and versions that differ between two runs',
    options: [],
  },
  merge: {
    args: ['<report-dir...>'],
    summary: "runs' report folders (one per CI job, or matrices) into one matrix: matrix.md, .json, .html, junit.xml",
    details:
      'virtlab merge reports/kvm-macvtap-k61 reports/kvm-macvtap-k612 --report-dir merged   (columns: folder names)',
    options: ['--report-dir'],
  },
  bisect: {
    args: ['<lab>'],
    summary: "the first target of an ordered list where the lab's outcome (or one assertion's) flips, by binary search",
    details:
      'virtlab bisect kvm-macvtap --targets kernels-in-order.yml [--assertion ping-remote]   at most ceil(log2(n-1))+2 runs',
    options: ['--targets', '--assertion', '--report-dir', '--variant', '--project'],
    root: true,
  },
  ci: {
    args: ['<engine>', '<lab...>'],
    summary: 'a CI pipeline (github or gitlab): a job per lab and target running virtlab run, then virtlab merge',
    details:
      'virtlab ci github kvm-macvtap kvm-routed --targets targets.yml --out .github/workflows/virtlab.yml\n' +
      'virtlab ci gitlab kvm-macvtap --targets targets.yml --shards 3 --out .gitlab-ci.yml',
    options: ['--targets', '--shards', '--out', '--project'],
  },
  baseline: {
    args: ['<action>', '[arg...]'],
    summary: "save runs' measured figures as a baseline (median and noise band), list baselines, or show one",
    details:
      'virtlab baseline save <report-dir>... [--name main]   figures of one or more runs of a lab, into baselines/<name>.json\n' +
      'virtlab baseline list | show <name>                  then: virtlab run <lab> --baseline main',
    options: ['--name', '--project'],
  },
  runs: {
    args: [],
    summary: 'past runs: lab, result, age and the path of their report',
    options: [],
    root: true,
  },
  prune: {
    args: [],
    summary: "remove old run folders (only virtlab's own, never a lab that is up), or the VM machines' snapshots",
    options: ['--older-than', '--snapshots'],
    root: true,
  },
  list: { args: [], summary: 'the labs, each with a one-line description', options: ['--project'] },
  validate: {
    args: ['[file...]'],
    summary: 'check labs, machines.yml and playbooks (all of the project when no argument)',
    options: ['--project'],
  },
  init: {
    args: ['[dir]'],
    summary: 'write a starter project: a lab, machines.yml and a playbook',
    options: [],
  },
  doctor: {
    args: [],
    summary: 'check the host: root, kernel features, programs, nested virtualization, images',
    options: [],
  },
  completion: {
    args: ['<shell>'],
    summary: 'a completion script for bash or zsh: source <(virtlab completion bash)',
    options: [],
  },
  help: { args: ['[command]'], summary: 'help for virtlab or for one command', options: [] },
};
