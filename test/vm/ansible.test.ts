// Real Ansible provisions VM machines: the agree lab's node-a runs its playbook through virtlab's subset and node-b
// through ansible-playbook; both say the same ok/changed counts on the first run and changed=0 on the second.

import { resolve } from 'node:path';
import test from 'ava';
import { leftovers, virtlab } from '../helpers/host.ts';
import { LONG, removeAfter } from '../helpers/vm.ts';

const env = { VIRTLAB_ROOT: resolve('test/fixtures/ansible/agree') };

const logs = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
    .filter((e) => e.type === 'log')
    .map((e) => e.message as string);

const counts = (lines: string[], machine: string) => {
  const l = lines.find((x) => x.startsWith(`${machine}: ok=`));
  return l ? /ok=(\d+) changed=(\d+) failed=(\d+)/.exec(l)!.slice(1) : undefined;
};

test.serial('the subset and ansible-playbook agree on VM machines: the same counts, then changed=0', (t) => {
  removeAfter(t, 'vm-agree');
  const up = virtlab(['up', 'agree', '--name', 'vm-agree', '--json'], { ...LONG, env });
  t.is(up.code, 0, up.stderr);
  const first = logs(up.stdout);
  t.regex(first.find((l) => l.startsWith('node-b: ok='))!, /\(ansible-playbook agree\.yml\)$/);
  t.deepEqual(counts(first, 'node-a'), ['5', '3', '0'], first.join('\n'));
  t.deepEqual(counts(first, 'node-b'), counts(first, 'node-a'));
  const again = virtlab(['provision', 'vm-agree', '--json'], { ...LONG, env });
  t.is(again.code, 0, again.stderr);
  const second = logs(again.stdout);
  t.deepEqual(counts(second, 'node-a'), ['5', '0', '0'], second.join('\n'));
  t.deepEqual(counts(second, 'node-b'), ['5', '0', '0']);
  t.is(virtlab(['check', 'vm-agree'], { env }).code, 0);
  const runId = JSON.parse(up.stdout.split('\n').find((l) => l.includes('"run-start"'))!).runId;
  t.is(virtlab(['down', 'vm-agree'], { env }).code, 0);
  t.deepEqual(leftovers('vm-agree', runId), []);
});
