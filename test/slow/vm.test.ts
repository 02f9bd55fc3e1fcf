// The slow tier (npm run test:slow, by hand: about 15 minutes more than npm test): a two-kernel matrix, a peer made
// a VM by machines.yml, macvtap-modes' vepa-hairpin on a VM, and two VM labs at once. npm run test:slow runs
// test/vm too.

import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { leftovers, virtlab } from '../helpers/host.ts';
import { startVirtlab } from '../helpers/spawn.ts';
import { LONG, removeAfter, tmp } from '../helpers/vm.ts';

test.serial('a two-kernel matrix: kvm-01 boots 6.1 and then 6.12, the table names both kernels', (t) => {
  removeAfter(t, 'mx-linux-6-1', 'mx-linux-6-12');
  const dir = tmp();
  const r = virtlab(['matrix', 'kvm-macvtap', '--targets', 'targets/kernels.yml', '--report-dir', dir], LONG);
  t.is(r.code, 0, r.out);
  t.regex(
    r.stdout,
    /linux-6-1: PASS {2}kvm-01 \(VM \(TCG\), guests KVM\): kernel 6\.1\.0-\d+-cloud-amd64, libvirt 9\.0\.0/,
  );
  t.regex(
    r.stdout,
    /linux-6-12: PASS {2}kvm-01 \(VM \(TCG\), guests KVM\): kernel 6\.12\.\d+\+deb12-cloud-amd64, libvirt 9\.0\.0/,
  );
  const m = JSON.parse(readFileSync(join(dir, 'matrix.json'), 'utf8'));
  const kernels = m.targets.map((x: any) => x.machines.find((y: any) => y.name === 'kvm-01').kernel);
  t.is(new Set(kernels).size, 2);
  t.deepEqual(leftovers('mx-linux-6-1'), []);
  t.deepEqual(leftovers('mx-linux-6-12'), []);
});

test.serial(
  'provider: vm on one machine in machines.yml: remote-01 boots as a VM under the netns provider, kvm-01 stays a namespace',
  (t) => {
    removeAfter(t, 'vm-peer');
    // a copy of the project whose machines.yml (the `machines:` form) marks only remote-01
    const root = tmp();
    cpSync('labs', join(root, 'labs'), { recursive: true });
    cpSync('playbooks', join(root, 'playbooks'), { recursive: true });
    writeFileSync(
      join(root, 'machines.yml'),
      [
        'machines:',
        '  kvm-01: { role: hypervisor, ram: 2048, vcpu: 2, ip_addr: 192.168.100.101, nested: true, provision: provision.yml }',
        '  remote-01: { ram: 512, vcpu: 1, ip_addr: 192.168.100.102, provision: provision.yml, provider: vm, kernel: "6.12" }',
        '',
      ].join('\n'),
    );
    const dir = tmp();
    const r = virtlab(['run', 'kvm-macvtap', '--name', 'vm-peer', '--report-dir', dir], {
      ...LONG,
      env: { VIRTLAB_ROOT: root },
    });
    t.is(r.code, 0, r.out);
    t.regex(r.stdout, /ok peer remote-01 \(VM, kernel 6\.12\.\d+\+deb12-cloud-amd64, TCG, 512 MiB, 1 vCPU\)/);
    t.regex(r.stdout, /ok hypervisor kvm-01 \(2048 MiB, 2 vCPU, libvirtd\)/);
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    t.is(report.provider, 'netns');
    t.like(
      report.machines.find((m: any) => m.name === 'remote-01'),
      { kind: 'VM (TCG)' },
    );
    t.regex(report.machines.find((m: any) => m.name === 'remote-01').kernel, /^6\.12\./);
    t.like(
      report.machines.find((m: any) => m.name === 'kvm-01'),
      { kind: 'namespace', guests: 'TCG' },
    );
    for (const a of report.assertions) t.is(a.status, 'pass', `${a.id}: ${a.reason}`);
    t.deepEqual(leftovers('vm-peer', report.runId), []);
  },
);

test.serial(
  "macvtap-modes vepa-hairpin with kvm-01 as a VM: the underlay reflects frames through the VM's NIC as on a namespace",
  (t) => {
    removeAfter(t, 'vm-vepa');
    const dir = tmp();
    const r = virtlab(
      [
        'run',
        'macvtap-modes',
        '--variant',
        'vepa-hairpin',
        '--provider',
        'vm',
        '--name',
        'vm-vepa',
        '--report-dir',
        dir,
      ],
      LONG,
    );
    t.is(r.code, 0, r.out);
    const grid = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).assertions[0];
    t.is(grid.status, 'pass', grid.reason);
    // guest to guest goes out of kvm-01's eth1 and back in through the hairpin port of the LAN switch
    t.regex(r.stdout, /7\/7 pairs as expected/);
    t.deepEqual(leftovers('vm-vepa', JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).runId), []);
  },
);

test.serial(
  'two VM labs at once on this host: the second waits for the first and both pass; a kept one is named with what to do',
  async (t) => {
    removeAfter(t, 'vm-two-a', 'vm-two-b', 'vm-kept', 'vm-third');
    const a = startVirtlab(['run', 'kvm-macvtap', '--provider', 'vm', '--name', 'vm-two-a']);
    await a.when((e) => e.type === 'step-start' && e.id === 'up-kvm-01', 300000);
    const b = startVirtlab(['run', 'kvm-macvtap', '--provider', 'vm', '--name', 'vm-two-b']);
    const wait = await b.when((e) => e.type === 'log' && /waiting for vm-two-a/.test(e.message), 60000);
    t.regex(wait.message, /runs the VMs of 1 lab at a time/);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    t.is(ra.code, 0, ra.stdout.slice(-2000));
    t.is(rb.code, 0, rb.stdout.slice(-2000));
    // b's machines came up only after a had torn its own down
    const aEnd = Date.parse(a.events.find((e) => e.type === 'run-end').time);
    const bUp = Date.parse(b.events.find((e) => e.type === 'step-start' && e.id === 'up-kvm-01').time);
    t.true(bUp >= aEnd - 1000, `b started kvm-01 at ${bUp}, a ended at ${aEnd}`);

    t.is(virtlab(['up', 'kvm-macvtap', '--provider', 'vm', '--name', 'vm-kept', '--until', 'promisc'], LONG).code, 0);
    try {
      const c = virtlab(['run', 'kvm-macvtap', '--provider', 'vm', '--name', 'vm-third'], LONG);
      t.is(c.code, 3, c.out);
      t.regex(c.out, /this host runs the VMs of 1 lab at a time, and vm-kept keeps its VMs up/);
      t.regex(c.out, /hint: virtlab down vm-kept first, or set VIRTLAB_VM_SLOTS=2/);
      t.deepEqual(leftovers('vm-third'), []);
    } finally {
      t.is(virtlab(['down', 'vm-kept']).code, 0);
    }
    for (const i of ['vm-two-a', 'vm-two-b', 'vm-kept']) t.deepEqual(leftovers(i), []);
  },
);
