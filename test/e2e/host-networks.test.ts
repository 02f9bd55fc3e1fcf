// Host networks on the netns provider, end to end on real components: a Linux bridge built by the bridge kind and by
// a user's own ip commands, a macvlan giving the host a way to its macvtap guest, and a lab whose namespace machines
// need a kernel feature this host may lack (stopped in preflight, before anything exists).

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { hostFeatures } from '../../src/host/features.ts';
import { leftovers, orphanNamespaceProcesses, virtlab } from '../helpers/host.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'virtlab-hostnet-'));

function runPassing(t: ExecutionContext, lab: string, name: string, extra: string[] = []) {
  const dir = tmp();
  const r = virtlab(['run', lab, '--name', name, '--report-dir', dir, ...extra]);
  t.is(r.code, 0, r.out);
  const rep = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  const a = Object.fromEntries(rep.assertions.map((x: any) => [x.id, x]));
  return { r, rep, a };
}

test.serial('linux-bridge: br0 takes eth1 and its address, the LAN leases the guest, kvm-01 reaches it', (t) => {
  const { r, rep, a } = runPassing(t, 'linux-bridge', 'e2e-lbr');
  t.regex(r.stdout, /ok Linux bridge br0 on kvm-01 with ports eth1, taking over 192\.168\.100\.101\/24 from eth1/);
  // the lease from the LAN's DHCP server (libvirt never has it for a host bridge), found without waiting it out
  t.regex(a.lease.reason, /^52:54:00:[0-9a-f:]{8} holds 192\.168\.100\.(1[5-9]\d) from the DHCP server of lan$/);
  t.regex(a['ping-host'].reason, /^1\/1 replies from 192\.168\.100\.\d+$/);
  t.is(a['ping-bridge'].reason, '1/1 replies from 192.168.100.101');
  t.is(a['eth1-port'].status, 'pass');
  for (const x of rep.assertions) t.is(x.status, 'pass', `${x.id}: ${x.reason}`);
  t.deepEqual(leftovers('e2e-lbr', rep.runId), []);
  t.deepEqual(orphanNamespaceProcesses(), []);
});

test.serial('the Linux-bridge lab as a user first writes it (ip commands in a command step) passes too', (t) => {
  const { rep, a } = runPassing(t, 'test/fixtures/labs/bridge-by-command.yml', 'e2e-lbrcmd');
  t.regex(a.lease.reason, /holds 192\.168\.100\.\d+ from the DHCP server of lan \(behind br0\)$/);
  t.is(a['ping-host'].status, 'pass');
  t.is(a['br0-up'].reason, 'br0 (bridge) on kvm-01: UP');
  t.deepEqual(leftovers('e2e-lbrcmd', rep.runId), []);
});

test.serial('macvlan-host-access: cut off before the macvlan (for the named reason), through vlan0 after it', (t) => {
  const { r, rep, a } = runPassing(t, 'macvlan-host-access', 'e2e-mvl');
  t.regex(r.stdout, /ok host-cut-off: kvm-01 can ping cirros \(expected to fail\)/);
  t.regex(a['host-cut-off'].reason, /^fails as expected: 0\/1 replies from 192\.168\.100\.\d+$/);
  t.regex(a['ping-host'].reason, /^1\/1 replies/);
  t.is(a['ping-vlan0'].reason, '1/1 replies from 192.168.100.101');
  t.is(a['vlan0-mode'].status, 'pass');
  t.deepEqual(leftovers('e2e-mvl', rep.runId), []);
});

test.serial(
  'a VLAN lab on namespace machines: preflight names 802.1Q, the steps and the fix when the kernel lacks it',
  async (t) => {
    const has8021q = (await hostFeatures()).get('8021q');
    const r = virtlab(['run', 'vlan', '--variant', 'netns', '--name', 'e2e-vlan']);
    if (has8021q) {
      t.log('this host has 802.1Q: the netns variant runs here');
      t.is(r.code, 0, r.out);
      return;
    }
    t.is(r.code, 3, r.out);
    t.regex(
      r.out,
      /step vlan-kvm \(vlan\) on kvm-01 needs 802\.1Q VLANs \(the 8021q module\), which this host's kernel lacks/,
    );
    t.regex(r.out, /fix: make kvm-01 a VM for this lab: machines: \{ kvm-01: \{ role: hypervisor, provider: vm/);
    t.regex(r.out, /\[preflight\] failed after/);
    t.notRegex(r.out, /\[up\]/);
    t.deepEqual(leftovers('e2e-vlan'), []);
    // doctor says so too, naming the variant it blocks
    const d = virtlab(['doctor']);
    t.regex(d.stdout, /kernel features: bridge yes, veth yes, macvlan yes, macvtap yes, 8021q no/);
    t.regex(d.stdout, /without 802\.1Q VLANs \(the 8021q module\): vlan \(variant netns\) need a VM machine here/);
    const j = JSON.parse(virtlab(['doctor', '--json']).stdout);
    t.deepEqual(
      j.features.find((f: any) => f.feature === '8021q'),
      { feature: '8021q', what: '802.1Q VLANs (the 8021q module)', present: false, blocks: ['vlan (variant netns)'] },
    );
  },
);
