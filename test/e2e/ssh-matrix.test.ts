// The ssh provider against existing hosts (netns machines with real sshd and libvirtd, host keys pinned), a matrix
// over two such targets, and the diff between two runs.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { leftovers, virtlab } from '../helpers/host.ts';

const dir = mkdtempSync(join(tmpdir(), 'virtlab-ssh-'));

function inventory(instance: string, hostKey?: string): string {
  const s = JSON.parse(readFileSync(`/var/lib/virtlab/state/${instance}.json`, 'utf8'));
  const lines = ['machines:'];
  for (const m of s.machines)
    lines.push(
      `  ${m.name}: { host: ${m.address}, user: root, key: ${s.keyFile}, host-key: "ssh-ed25519 ${hostKey ?? m.hostKey}" }`,
    );
  lines.push('networks:', ...s.data.networks.map((n: any) => `  ${n.name}: { leases: ${n.leaseFile} }`));
  const file = join(dir, `${instance}${hostKey ? '-wrong' : ''}.yml`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

test.serial('kvm-macvtap through the ssh provider, a two-target matrix, and a diff', (t) => {
  for (const h of ['hosts-a', 'hosts-b'])
    t.is(virtlab(['up', 'kvm-macvtap', '--until', 'upload', '--name', h]).code, 0);
  try {
    const a = inventory('hosts-a');
    const b = inventory('hosts-b');
    // a run on existing hosts: everything it created there is removed again
    const r = virtlab([
      'run',
      'kvm-macvtap',
      '--provider',
      'ssh',
      '--inventory',
      a,
      '--name',
      'via-ssh',
      '--keep',
      '--report-dir',
      join(dir, 'ssh-run'),
    ]);
    t.is(r.code, 0, r.out);
    t.regex(r.stdout, /ok existing host kvm-01 \(100\.127\.\d+\.\d+\)/);
    t.regex(r.stdout, /PASS {2}10\/10 assertions as expected/);
    // kept: virtlab ssh reaches the existing host with the inventory's key and pinned host key
    t.is(virtlab(['ssh', 'via-ssh', 'kvm-01', '--', 'virsh', 'list', '--name']).stdout.trim(), 'cirros');
    const dn = virtlab(['down', 'via-ssh']);
    t.is(dn.code, 0, dn.out);
    t.regex(dn.stdout, /via-ssh: removed \(\d+ resources of run [0-9a-f]{6}\); nothing left/);
    const left = virtlab([
      'ssh',
      'hosts-a',
      'kvm-01',
      '--',
      'sh',
      '-c',
      'virsh list --all --name; virsh net-list --all --name; ls /var/lib/libvirt/images; ip -o link show dev eth1',
    ]);
    t.notRegex(left.stdout, /cirros|macvtap-net|qcow2|PROMISC/, left.stdout);
    // an unknown host key is refused, naming the fingerprint to pin
    const wrong = inventory('hosts-a', 'AAAAC3NzaC1lZDI1NTE5AAAAIHx0B6dWhqb7xPv2yFnqv0c7G1q2b3aN2v3c4d5e6f7g');
    const w = virtlab(['run', 'kvm-macvtap', '--provider', 'ssh', '--inventory', wrong, '--name', 'via-ssh-wrong']);
    t.is(w.code, 3);
    t.regex(
      w.stderr,
      /host key of kvm-01 \(100\.127\.\d+\.\d+\) is SHA256:\S+, not the pinned SHA256:\S+; if the host really changed, pin SHA256:/,
    );
    // the matrix: both targets at once (they share no host)
    writeFileSync(
      join(dir, 'targets.yml'),
      `targets:\n  host-a: { provider: ssh, inventory: ${a} }\n  host-b: { provider: ssh, inventory: ${b} }\n`,
    );
    const m = virtlab([
      'matrix',
      'kvm-macvtap',
      '--targets',
      join(dir, 'targets.yml'),
      '--report-dir',
      join(dir, 'mx'),
    ]);
    t.is(m.code, 0, m.out);
    t.regex(m.stdout, /host-a: PASS {2}kvm-01: kernel \S+, libvirt 9\.0\.0, QEMU [\d.]+/);
    t.regex(m.stdout, /ping-host +pass\* +pass\*/);
    const md = readFileSync(join(dir, 'mx', 'matrix.md'), 'utf8');
    t.regex(md, /\| assertion \| host-a \| host-b \|/);
    t.regex(md, /\| lease \| pass \| pass \|/);
    t.is((readFileSync(join(dir, 'mx', 'junit.xml'), 'utf8').match(/<testsuite /g) ?? []).length, 2);
    // a run without promisc differs from a good one: the diff names what flipped
    const bad = virtlab(
      [
        'run',
        'kvm-macvtap',
        '--provider',
        'ssh',
        '--inventory',
        b,
        '--name',
        'via-ssh-bad',
        '--skip',
        'promisc',
        '--report-dir',
        join(dir, 'bad'),
      ],
      { env: { VIRTLAB_READY_TIMEOUT: '10' } },
    );
    t.is(bad.code, 1);
    const d = virtlab(['diff', join(dir, 'mx', 'host-a'), join(dir, 'bad')]);
    t.is(d.code, 1);
    // (the real network's DHCP server still remembers the lease of the earlier run for the same MAC, so "lease"
    // may not flip; what the guest itself has does)
    t.regex(d.stdout, /assertions that flipped .*:\n/);
    t.regex(d.stdout, /link-promisc: pass -> fail/);
    t.regex(d.stdout, /guest-ip: pass -> fail/);
    t.regex(d.stdout, /ping-remote: pass -> fail/);
    t.regex(d.stdout, /versions: the same/);
  } finally {
    for (const h of ['hosts-a', 'hosts-b']) virtlab(['down', h]);
  }
  t.deepEqual(leftovers('hosts-a'), []);
  t.deepEqual(leftovers('hosts-b'), []);
});
