// The one quoting function: a hostile value must land as one literal argument in a real shell.

import { spawnSync } from 'node:child_process';
import test from 'ava';
import { commandLine, quoteArg } from '../../src/transport/quote.ts';

const HOSTILE = [
  '',
  ' ',
  'a b',
  "it's",
  '"double"',
  '$(reboot)',
  '`id`',
  '; rm -rf /',
  '&& echo pwned',
  '| cat /etc/shadow',
  '> /tmp/x',
  '$HOME',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a hostile value on purpose
  '${IFS}',
  '\\',
  'new\nline',
  'tab\there',
  '*',
  '?',
  '[a-z]',
  '~root',
  '!event',
  '#comment',
  "'; echo '",
  'é ünïcode',
  '-rf',
  '--help',
];

test('each hostile value round-trips through bash as exactly one argument', (t) => {
  const line = commandLine(['printf', '%s\\0', ...HOSTILE]);
  const r = spawnSync('bash', ['-c', line], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(r.stdout.split('\0').slice(0, -1), HOSTILE);
});

test('safe words stay unquoted, everything else is single-quoted', (t) => {
  t.is(quoteArg('virsh'), 'virsh');
  t.is(quoteArg('192.168.100.1/24'), '192.168.100.1/24');
  t.is(quoteArg('a b'), "'a b'");
  t.is(quoteArg("it's"), `'it'\\''s'`);
});

test('NUL bytes and bad env names are refused', (t) => {
  t.throws(() => quoteArg('a\0b'));
  t.throws(() => commandLine(['true'], { env: { 'A;B': '1' } }));
  t.throws(() => commandLine([]));
});

test('env and sudo are part of the same quoted line', (t) => {
  const line = commandLine(['sh', '-c', 'printf %s "$X"'], { env: { X: '$(id) ; x' } });
  const r = spawnSync('bash', ['-c', line], { encoding: 'utf8' });
  t.is(r.stdout, '$(id) ; x');
  t.true(commandLine(['id'], { sudo: true }).startsWith('sudo -n -- '));
});
