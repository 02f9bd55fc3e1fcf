import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { formatDiagnostic } from '../../src/errors.ts';
import { classify } from '../../src/lab/load.ts';
import { parseKv, readPlaybook } from '../../src/lab/playbook.ts';
import { ansibleBool } from '../../src/lab/playbook-vocabulary.ts';
import { inventoryText, knownHostsText, parseAnsibleLine } from '../../src/runner/ansible.ts';
import { packagesFor, splitWords } from '../../src/runner/modules.ts';
import { evalWhen, expandTask, freeForm, hostsMatch, loadPlaybook, template } from '../../src/runner/playbook.ts';

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
  const { plays } = loadPlaybook('playbooks/provision.yml');
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

const playbook = (text: string) => {
  const f = join(mkdtempSync(join(tmpdir(), 'virtlab-pb-')), 'p.yml');
  writeFileSync(f, text);
  const r = readPlaybook(f);
  return {
    ...r,
    errors: r.diagnostics
      .filter((d) => d.severity !== 'warning')
      .map((d) =>
        formatDiagnostic(d)
          .split('\n')[0]!
          .replace(/^.*?p\.yml/, ''),
      ),
    warnings: r.diagnostics
      .filter((d) => d.severity === 'warning')
      .map((d) => formatDiagnostic(d).replace(/^.*?p\.yml/, '')),
  };
};

test("Ansible's boolean forms", (t) => {
  for (const v of ['yes', 'Yes', 'true', 'on', '1', 'y', 1, true]) t.true(ansibleBool(v), String(v));
  for (const v of ['no', 'False', 'off', '0', 'n', 0, false]) t.false(ansibleBool(v), String(v));
  t.is(ansibleBool('maybe'), undefined);
  t.is(ansibleBool(2), undefined);
});

test('the classic provision.yml reads with warnings only: sudo, the old package names, validate_certs', (t) => {
  const r = readPlaybook('test/fixtures/ansible/classic-provision.yml');
  const errors = r.diagnostics.filter((d) => d.severity !== 'warning');
  t.deepEqual(errors, []);
  const w = r.diagnostics.filter((d) => d.severity === 'warning').map((d) => `${d.line}: ${d.message}`);
  t.deepEqual(w, [
    '6: sudo is the old spelling of become (read as become)',
    '11: package qemu-kvm no longer exists in Debian 12: qemu-system-x86 will be installed instead',
    '11: package libvirt-bin no longer exists in Debian 12: libvirt-daemon-system and libvirt-clients will be installed instead',
    '17: sudo is the old spelling of become (read as become)',
    '24: option "validate_certs" of get_url is ignored by virtlab\'s subset',
  ]);
  t.is(r.plays[0]!.tasks[0]!.user, 'root', 'sudo: yes runs as root whatever remote_user says');
  t.deepEqual(r.plays[0]!.tasks[0]!.items, ['qemu-kvm', 'libvirt-bin', 'virtinst']);
  t.deepEqual(packagesFor(['qemu-kvm', 'libvirt-bin', 'virtinst']).pkgs, [
    'qemu-system-x86',
    'libvirt-daemon-system',
    'libvirt-clients',
    'virtinst',
  ]);
});

test('what changes the outcome is an error pointing to real Ansible; what does not is a warning', (t) => {
  const r = playbook(`- hosts: all
  become: maybe
  handlers: []
  tasks:
    - name: a
      apt: name=x purge=yes
    - name: b
      template: src=a dest=b
    - name: c
      command: make
      register: out
    - name: d
      ansible.builtin.file: path=/root/x state=hard
    - name: e
      copy: dest=/root/y colour=red
    - name: f
      apt: name=x cache_valid_time=3600
      tags: [x]
`);
  t.deepEqual(r.errors, [
    ':2:3: become must be a boolean (yes/no, true/false, on/off, 1/0), not "maybe"',
    ':3:3: play keyword "handlers" is not supported by virtlab\'s subset',
    ':6:7: option "purge" of apt is not supported by virtlab\'s subset',
    ':8:7: module "template" is not in virtlab\'s subset (apt, get_url, copy, file, command, shell, sysctl, debug)',
    ':11:7: task keyword "register" is not supported by virtlab\'s subset',
    ":13:7: file state=hard is not supported by virtlab's subset (file, directory, touch, absent, link)",
    ':15:7: unknown option "colour" of copy',
    ':15:7: copy needs src or content',
  ]);
  t.deepEqual(r.warnings, [
    ':17:7: warning: option "cache_valid_time" of apt is ignored by virtlab\'s subset',
    ':18:7: warning: task keyword "tags" is ignored by virtlab\'s subset',
  ]);
  t.regex(
    formatDiagnostic(r.diagnostics.find((d) => /template/.test(d.message))!),
    /hint: .*provisioner: ansible.*--provisioner ansible/,
  );
});

test('command: free form with its options, argv, creates', (t) => {
  t.deepEqual(freeForm('make all creates=/root/done chdir=/root'), {
    creates: '/root/done',
    chdir: '/root',
    cmd: 'make all',
  });
  const r = playbook(`- hosts: all
  tasks:
    - command: touch /root/x
      args:
        creates: /root/x
    - command:
        argv: [echo, a b]
`);
  t.deepEqual(r.errors, []);
  t.deepEqual(r.plays[0]!.tasks[0]!.raw, { creates: '/root/x', cmd: 'touch /root/x' });
  t.deepEqual(r.plays[0]!.tasks[1]!.raw, { argv: ['echo', 'a b'] });
});

test('a YAML file is known by its content wherever it lives', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-kind-'));
  const put = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return classify(join(dir, name), '/nonexistent');
  };
  t.is(put('provision.yml', '- hosts: all\n  tasks: []\n'), 'playbook');
  t.is(put('hosts.yml', '- name: kvm-01\n  box: x\n  ram: "2048"\n'), 'machines');
  t.is(put('rich.yml', 'machines:\n  kvm-01: { role: hypervisor }\n'), 'machines');
  t.is(put('lab.yml', 'description: x\nmachines: {}\nsteps: []\n'), 'lab');
  t.is(classify('test/fixtures/ansible/classic-provision.yml', '/nonexistent'), 'playbook');
});

test('ansible-playbook output becomes task results and a recap', (t) => {
  t.deepEqual(parseAnsibleLine('TASK [Install KVM] *********'), { type: 'task', name: 'Install KVM' });
  t.deepEqual(parseAnsibleLine('PLAY [all] *********'), { type: 'play', name: 'all' });
  t.deepEqual(parseAnsibleLine('ok: [kvm-01]'), { type: 'result', host: 'kvm-01', status: 'ok' });
  t.deepEqual(parseAnsibleLine('changed: [kvm-01] => (item=virtinst)'), {
    type: 'result',
    host: 'kvm-01',
    status: 'changed',
    item: 'virtinst',
  });
  t.deepEqual(parseAnsibleLine('fatal: [remote-01]: FAILED! => {"changed": false, "msg": "No package matching x"}'), {
    type: 'result',
    host: 'remote-01',
    status: 'failed',
    detail: 'No package matching x',
  });
  t.deepEqual(parseAnsibleLine('skipping: [kvm-01]'), { type: 'result', host: 'kvm-01', status: 'skipped' });
  t.deepEqual(parseAnsibleLine('fatal: [kvm-01]: UNREACHABLE! => {"msg": "ssh: connect"}')?.type, 'result');
  t.deepEqual(
    parseAnsibleLine(
      'kvm-01                     : ok=6    changed=4    unreachable=0    failed=0    skipped=1    rescued=0    ignored=0',
    ),
    { type: 'recap', host: 'kvm-01', counts: { ok: 6, changed: 4, unreachable: 0, failed: 0, skipped: 1 } },
  );
  t.is(parseAnsibleLine('PLAY RECAP *****'), undefined);
});

test('the inventory: groups by role, the run key, pinned host keys', (t) => {
  const access = (host: string) => ({ host, port: 22, user: 'root', keyFile: '/run/k', hostKey: 'ssh-ed25519 AAAA' });
  const hosts = [
    { name: 'kvm-01', role: 'hypervisor' as const, access: access('100.127.0.2') },
    { name: 'remote-01', role: 'peer' as const, access: access('100.127.0.6') },
  ];
  t.is(knownHostsText(hosts), '100.127.0.2 ssh-ed25519 AAAA\n100.127.0.6 ssh-ed25519 AAAA\n');
  const inv = inventoryText(hosts, '/x/known_hosts', 'title');
  t.regex(
    inv,
    /\[hypervisor\]\nkvm-01 ansible_host=100\.127\.0\.2 ansible_port=22 ansible_user=root ansible_ssh_private_key_file=\/run\/k\n/,
  );
  t.regex(inv, /\[peers:children\]\npeer\n/);
  t.regex(inv, /ansible_ssh_common_args='-o UserKnownHostsFile=\/x\/known_hosts -o StrictHostKeyChecking=yes/);
});
