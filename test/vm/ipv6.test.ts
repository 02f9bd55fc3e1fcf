// Dual stack with kvm-01 as a VM (the VM tier): its Debian kernel takes the IPv6 address from the seed, forms no
// SLAAC address of its own, and the nested guest's SLAAC address behaves as on namespace machines.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { leftovers, virtlab } from '../helpers/host.ts';
import { LONG, removeAfter, tmp } from '../helpers/vm.ts';

test.serial(
  'kvm-macvtap-dual with kvm-01 as a VM: every IPv6 expectation holds, the VM has exactly its own address',
  (t) => {
    removeAfter(t, 'vm-dual');
    const dir = tmp();
    const r = virtlab(
      ['run', 'kvm-macvtap-dual', '--provider', 'vm', '--name', 'vm-dual', '--report-dir', dir, '--keep'],
      LONG,
    );
    t.is(r.code, 0, r.out);
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    for (const a of report.assertions) t.is(a.status, 'pass', `${a.id}: ${a.reason}`);
    const byId = Object.fromEntries(report.assertions.map((a: any) => [a.id, a]));
    t.regex(byId['ping-remote-v6'].reason, /^1\/1 replies from fd00:100::5054:ff:fe/);
    t.is(byId['ping-host-v6'].observed, 'fail');
    // the VM's eth1: the seed's address, and no second one from the LAN's advertisements
    const addrs = JSON.parse(
      virtlab(['ssh', 'vm-dual', 'kvm-01', '--', 'ip', '-j', '-6', 'addr', 'show', 'dev', 'eth1', 'scope', 'global'])
        .stdout,
    );
    t.deepEqual(
      addrs[0].addr_info.filter((a: any) => a.local).map((a: any) => `${a.local}/${a.prefixlen}`),
      ['fd00:100::101/64'],
    );
    t.is(virtlab(['down', 'vm-dual']).code, 0);
    t.deepEqual(leftovers('vm-dual', report.runId), []);
  },
);

test.serial("kvm-nat-dual with kvm-01 as a VM: libvirt's NAT66 in the VM's own kernel, the same expectations", (t) => {
  removeAfter(t, 'vm-natdual');
  const dir = tmp();
  const r = virtlab(['run', 'kvm-nat-dual', '--provider', 'vm', '--name', 'vm-natdual', '--report-dir', dir], LONG);
  t.is(r.code, 0, r.out);
  const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  const byId = Object.fromEntries(report.assertions.map((a: any) => [a.id, a]));
  t.regex(byId['nat-source-v6'].reason, /coming from fd00:50::11 \(expected fd00:50::11\)$/);
  t.is(byId['nat-in-v6'].observed, 'fail');
  t.deepEqual(leftovers('vm-natdual', report.runId), []);
});
