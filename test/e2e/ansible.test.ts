// Ansible on namespace machines, end to end on real components: the original lab's provision.yml, unchanged,
// validates anywhere and provisions the kvm-macvtap machines through virtlab's subset; real ansible-playbook runs
// the agree playbook on namespace machines (a second run changes nothing) and is refused, before anything runs, the
// tasks that would change this host.

import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { home } from '../../src/host/home.ts';
import { downloadCachePath } from '../../src/runner/modules.ts';
import { leftovers, orphanNamespaceProcesses, virtlab } from '../helpers/host.ts';

const CIRROS = 'http://download.cirros-cloud.net/0.3.4/cirros-0.3.4-x86_64-disk.img';
const FIXTURES = 'test/fixtures/ansible';

const events = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
const logs = (evs: any[]) => evs.filter((e) => e.type === 'log').map((e) => e.message as string);
const tasks = (evs: any[]) =>
  Object.fromEntries(evs.filter((e) => e.type === 'step-end' && e.stage === 'provision').map((e) => [e.id, e]));

/** A project of the user's own: the kvm-macvtap lab, a machines.yml naming the classic playbook, and the playbook. */
function classicProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-ansible-'));
  mkdirSync(join(dir, 'labs'));
  cpSync('labs/kvm-macvtap.yml', join(dir, 'labs/kvm-macvtap.yml'));
  cpSync('labs/kvm-macvtap', join(dir, 'labs/kvm-macvtap'), { recursive: true });
  mkdirSync(join(dir, 'playbooks'));
  for (const f of ['classic-provision.yml', 'macvtap.xml']) cpSync(join(FIXTURES, f), join(dir, 'playbooks', f));
  const machines = readFileSync('machines.yml', 'utf8').replaceAll(
    'provision: provision.yml',
    'provision: classic-provision.yml',
  );
  writeFileSync(join(dir, 'machines.yml'), machines);
  return dir;
}

/** The agree project with namespace machines (its machines.yml asks for VMs). */
function agreeOnNamespaces(): string {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-agree-'));
  cpSync(join(FIXTURES, 'agree'), dir, { recursive: true });
  const m = readFileSync(join(dir, 'machines.yml'), 'utf8').replaceAll('    provider: vm\n', '');
  writeFileSync(join(dir, 'machines.yml'), m);
  return dir;
}

test.serial('the original provision.yml, unchanged, validates outside a playbooks/ folder with notices', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-pb-'));
  const file = join(dir, 'provision.yml');
  cpSync(join(FIXTURES, 'classic-provision.yml'), file);
  const r = virtlab(['validate', file]);
  t.is(r.code, 0, r.out);
  t.regex(r.stdout, /^ok {2}.*provision\.yml$/m);
  t.regex(r.stderr, /provision\.yml:6:3: warning: sudo is the old spelling of become \(read as become\)/);
  t.regex(
    r.stderr,
    /warning: package libvirt-bin no longer exists in Debian 12: libvirt-daemon-system and libvirt-clients/,
  );
  t.regex(r.stderr, /warning: package qemu-kvm no longer exists in Debian 12: qemu-system-x86/);
  t.regex(r.stderr, /provision\.yml:24:9: warning: option "validate_certs" of get_url is ignored/);
});

test.serial('the classic playbook provisions the kvm-macvtap machines through the subset, and the lab passes', (t) => {
  const dir = classicProject();
  const cached = downloadCachePath(join(home().cache, 'downloads'), CIRROS);
  const seeded = !existsSync(cached);
  // offline: the download is served from the cache, as the failure message of get_url tells a user to do
  if (seeded) {
    mkdirSync(join(cached, '..'), { recursive: true });
    writeFileSync(cached, 'a stand-in for the CirrOS 0.3.4 image\n');
  }
  try {
    const r = virtlab(['run', 'kvm-macvtap', '--name', 'e2e-classic', '--json'], { env: { VIRTLAB_ROOT: dir } });
    t.is(r.code, 0, r.stderr);
    const evs = events(r.stdout);
    const task = tasks(evs);
    t.is(task['kvm-01: Install KVM, libvirt and virt-install']?.status, 'ok');
    t.regex(
      task['kvm-01: Install KVM, libvirt and virt-install']?.detail,
      /Debian 12 successors: qemu-kvm -> qemu-system-x86, libvirt-bin -> libvirt-daemon-system libvirt-clients/,
    );
    t.is(task['kvm-01: Download the CirrOS image']?.status, 'changed');
    t.is(task['kvm-01: Copy the macvtap network definition']?.status, 'changed');
    t.true(logs(evs).includes('kvm-01: ok=3 changed=2 failed=0 (classic-provision.yml)'), logs(evs).join('\n'));
    t.true(logs(evs).includes('remote-01: ok=1 changed=0 failed=0 (classic-provision.yml)'));
    t.true(logs(evs).some((l) => /classic-provision\.yml:6:3: warning: sudo is the old spelling of become/.test(l)));
    const start = evs.find((e) => e.type === 'run-start');
    t.deepEqual(leftovers('e2e-classic', start.runId), []);
  } finally {
    if (seeded) rmSync(cached, { force: true });
  }
});

test.serial(
  'real Ansible on namespace machines: tasks that would change this host are refused before any runs',
  (t) => {
    const dir = classicProject();
    const r = virtlab(['run', 'kvm-macvtap', '--name', 'e2e-refuse', '--provisioner', 'ansible'], {
      env: { VIRTLAB_ROOT: dir },
    });
    t.is(r.code, 3, r.out);
    t.regex(r.out, /provisioning refused before anything ran: namespace machines share this host's files/);
    t.regex(
      r.out,
      /kvm-01: task "Install KVM, libvirt and virt-install" \(.*classic-provision\.yml:9\): update_cache would update the host's package lists/,
    );
    t.regex(r.out, /hint: run these machines as VMs \(provider: vm in machines\.yml, or --provider vm\)/);
    t.notRegex(r.out, /ansible-playbook classic-provision/, 'ansible-playbook never ran');
    t.deepEqual(orphanNamespaceProcesses(), []);
  },
);

test.serial(
  'real ansible-playbook provisions namespace machines like the subset does; again, it changes nothing',
  (t) => {
    const dir = agreeOnNamespaces();
    const env = { VIRTLAB_ROOT: dir };
    const up = virtlab(['up', 'agree', '--name', 'e2e-agree', '--json'], { env });
    try {
      t.is(up.code, 0, up.stderr);
      const first = logs(events(up.stdout));
      t.true(first.includes('node-a: ok=5 changed=3 failed=0 (agree.yml)'), first.join('\n'));
      t.true(first.includes('node-b: ok=5 changed=3 failed=0 (ansible-playbook agree.yml)'), first.join('\n'));
      const task = tasks(events(up.stdout));
      t.is(task['node-b: a command that runs once']?.status, 'changed');
      t.is(task['node-b: iproute2 is there']?.status, 'ok');
      const again = virtlab(['provision', 'e2e-agree', '--json'], { env });
      t.is(again.code, 0, again.stderr);
      const second = logs(events(again.stdout));
      t.true(second.includes('node-a: ok=5 changed=0 failed=0 (agree.yml)'), second.join('\n'));
      t.true(second.includes('node-b: ok=5 changed=0 failed=0 (ansible-playbook agree.yml)'), second.join('\n'));
      // the inventory works by hand: plain Ansible reaches the machines with the run's key and pinned host keys
      const inv = virtlab(['inventory', 'e2e-agree'], { env });
      t.is(inv.code, 0, inv.stderr);
      t.regex(inv.stdout, /^\[peer\]\nnode-a ansible_host=100\.127\.\d+\.\d+ ansible_port=22 ansible_user=root /m);
      const file = join(dir, 'inventory.ini');
      writeFileSync(file, inv.stdout);
      const adhoc = spawnAnsible(['-i', file, 'node-b', '-m', 'command', '-a', 'cat /root/virtlab-agree/motd']);
      t.regex(adhoc, /node-b \| CHANGED \| rc=0 >>\nprovisioned by virtlab/);
      t.is(virtlab(['check', 'e2e-agree'], { env }).code, 0);
    } finally {
      t.is(virtlab(['down', 'e2e-agree'], { env }).code, 0);
    }
  },
);

function spawnAnsible(args: string[]): string {
  const r = spawnSync('ansible', args, { encoding: 'utf8', env: { ...process.env, ANSIBLE_NOCOLOR: '1' } });
  return r.stdout + r.stderr;
}
