import test from 'ava';
import { COMMANDS, HELP, helpFor, parseArgs } from '../../src/cli/args.ts';
import { bashCompletion, zshCompletion } from '../../src/cli/completion.ts';

const env = { NO_COLOR: '1' };

test('`virtlab <lab>` is `virtlab run <lab>`', (t) => {
  const o = parseArgs(['kvm-macvtap'], env);
  t.is(o.command, 'run');
  t.deepEqual(o.args, ['kvm-macvtap']);
});

test('flags, repeatable --skip, --flag=value, and argv after --', (t) => {
  const o = parseArgs(
    ['run', 'kvm-macvtap', '--skip', 'promisc', '--skip=guest', '--keep', '--provider=netns', '--until', 'net-define'],
    env,
  );
  t.deepEqual(o.skip, ['promisc', 'guest']);
  t.true(o.keep);
  t.is(o.provider, 'netns');
  t.is(o.until, 'net-define');
  t.false(o.color);
  const s = parseArgs(['ssh', 'lab', 'kvm-01', '--', 'ip', '-j', 'link'], env);
  t.deepEqual(s.rest, ['ip', '-j', 'link']);
});

test('run --dry-run is plan', (t) => {
  t.is(parseArgs(['run', 'x', '--dry-run'], env).command, 'plan');
});

test('unknown commands and options are usage errors with a suggestion', (t) => {
  const e = t.throws(() => parseArgs(['valdate'], env));
  t.regex(e!.message, /did you mean "validate"/);
  t.is((e as any).exitCode, 2);
  t.regex(t.throws(() => parseArgs(['run', 'x', '--kep'], env))!.message, /did you mean --keep/);
  t.regex(t.throws(() => parseArgs(['run', 'x', '--skip'], env))!.message, /--skip needs a value/);
});

test('each command has its own help with its own options; --version and help <command>', (t) => {
  const run = helpFor('run');
  const ssh = helpFor('ssh');
  t.not(run, ssh);
  t.regex(run, /^Usage: virtlab run \[options\] <lab>/);
  for (const flag of ['--until <step-id>', '--skip <step-id>', '--dry-run', '--provisioner <who>', '--verbose'])
    t.true(run.includes(flag), flag);
  t.regex(helpFor('reset'), /--to <step-id>/);
  t.regex(helpFor('down'), /--all/);
  t.regex(helpFor('graph'), /--format <format>[\s\S]*--out <file>/);
  t.regex(helpFor('matrix'), /--targets <file>/);
  t.regex(ssh, /virtlab ssh kvm-macvtap kvm-01 -- virsh list --all/);
  t.regex(HELP, /--version/);
  t.is(parseArgs(['run', '--help'], env).help, true);
  t.is(parseArgs(['help', 'run'], env).args[0], 'run');
  t.true(parseArgs(['--version'], env).version);
});

test('strict options per command, missing arguments, transposed commands', (t) => {
  const e = t.throws(() => parseArgs(['ssh', 'lab', 'kvm-01', '--keep'], env));
  t.regex(e!.message, /^ssh does not take --keep$/);
  t.regex(t.throws(() => parseArgs(['check'], env))!.message, /^check needs <lab>$/);
  t.regex(t.throws(() => parseArgs(['lsit'], env))!.message, /did you mean "list"/);
  t.regex(t.throws(() => parseArgs(['run', 'a', 'b'], env))!.message, /run takes 1 argument/);
  t.is(parseArgs(['run', 'x', '--no-color'], { ...env }).color, false);
});

test('completion scripts name every command and each command its options', (t) => {
  const bash = bashCompletion();
  for (const c of COMMANDS) t.true(bash.includes(c), c);
  t.regex(bash, /run\) opts="[^"]*--until[^"]*"/);
  t.regex(bash, /complete -o default -F _virtlab virtlab/);
  t.regex(zshCompletion(), /^#compdef virtlab/);
});
