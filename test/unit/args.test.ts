import test from 'ava';
import { parseArgs } from '../../src/cli/args.ts';

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
