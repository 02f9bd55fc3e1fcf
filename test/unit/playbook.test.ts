import test from 'ava';
import { evalWhen, expandTask, hostsMatch, loadPlaybook, parseKv, template } from '../../src/runner/playbook.ts';
import { splitWords } from '../../src/runner/provision.ts';

test('key=value arguments, including templates with spaces', (t) => {
  t.deepEqual(parseKv('name={{ item }} state=present update_cache=yes'), {
    name: '{{ item }}',
    state: 'present',
    update_cache: 'yes',
  });
  t.deepEqual(parseKv(`path=/root/lab mode="0755" owner='root'`), { path: '/root/lab', mode: '0755', owner: 'root' });
});

test('templates and when expressions', (t) => {
  t.is(template('{{ item }}', { item: 'qemu' }), 'qemu');
  t.deepEqual(template('{{ item }}', { item: ['a'] }), ['a']);
  t.is(template('/home/{{ inventory_hostname }}/x', { inventory_hostname: 'kvm-01' }), '/home/kvm-01/x');
  t.true(evalWhen("inventory_hostname == 'kvm-01'", { inventory_hostname: 'kvm-01' }));
  t.false(evalWhen("inventory_hostname != 'kvm-01'", { inventory_hostname: 'kvm-01' }));
  t.true(evalWhen("inventory_hostname in ['a', 'kvm-01']", { inventory_hostname: 'kvm-01' }));
  t.true(
    evalWhen("'hypervisor' in group_names and inventory_hostname == 'kvm-01'", {
      inventory_hostname: 'kvm-01',
      group_names: ['hypervisor'],
    }),
  );
  t.throws(() => evalWhen('nosuchvar == 1', {}));
});

test('hosts patterns', (t) => {
  t.true(hostsMatch('all', 'x', 'peer'));
  t.true(hostsMatch('kvm-01:remote-01', 'remote-01', 'peer'));
  t.true(hostsMatch('hypervisors', 'kvm-01', 'hypervisor'));
  t.false(hostsMatch('kvm-01', 'remote-01', 'peer'));
});

test('the project playbook loads; an apt loop becomes one task with every package', (t) => {
  const plays = loadPlaybook('playbooks/provision.yml');
  const apt = plays[0]!.tasks[0]!;
  const tasks = expandTask(apt, { inventory_hostname: 'kvm-01' });
  t.is(tasks.length, 1);
  t.deepEqual(tasks[0]!.args.name, ['iproute2', 'openssh-server']);
});

test('command lines split into words without a shell', (t) => {
  t.deepEqual(splitWords(`virsh net-define "/root/my file.xml" 'a b'`), [
    'virsh',
    'net-define',
    '/root/my file.xml',
    'a b',
  ]);
});
