// The VM tier's host-network labs: kernel features this host's kernel lacks (802.1Q, bonding, Open vSwitch), carried
// by machines the lab itself makes VMs (provider: vm), end to end, nothing left behind.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { leftovers, orphanNamespaceProcesses, virtlab } from '../helpers/host.ts';
import { LONG, removeAfter } from '../helpers/vm.ts';

function runPassing(t: ExecutionContext, args: string[], name: string) {
  removeAfter(t, name);
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-vm-hostnet-'));
  const r = virtlab(['run', ...args, '--name', name, '--report-dir', dir], LONG);
  t.is(r.code, 0, r.out);
  const rep = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  for (const a of rep.assertions) t.is(a.status, 'pass', `${a.id}: ${a.reason}`);
  const a = Object.fromEntries(rep.assertions.map((x: any) => [x.id, x]));
  t.deepEqual(leftovers(name, rep.runId), []);
  t.deepEqual(orphanNamespaceProcesses(), []);
  return { r, rep, a };
}

test.serial('vlan: the tagged peer reaches the guest on VLAN 100, the untagged one does not (machines as VMs)', (t) => {
  const { r, rep, a } = runPassing(t, ['vlan', '--variant', 'vm'], 'vm-vlan');
  t.regex(r.stdout, /ok VLAN 100 \(802\.1Q\) eth1\.100 on eth1 of kvm-01/);
  t.is(a['tagged-peer'].reason, '1/1 replies from 10.100.0.50');
  t.regex(a['untagged-peer'].reason, /^fails as expected: 0\/1 replies from 10\.100\.0\.50/);
  t.regex(a['guest-to-untagged'].reason, /^fails as expected: 0\/1 replies/);
  t.like(
    rep.machines.find((m: any) => m.name === 'remote-02'),
    { kind: 'namespace' },
  );
  t.regex(rep.machines.find((m: any) => m.name === 'kvm-01').kind, /^VM/);
});

test.serial('ovs: access tags isolate red from blue1 and blue2 until the hairpin flow floods everything', (t) => {
  const { a } = runPassing(t, ['ovs'], 'vm-ovs');
  const cells = a.tags.cells as { from: string; to: string; observed: string }[];
  const obs = (f: string, to: string) => cells.find((c) => c.from === f && c.to === to)!.observed;
  t.is(obs('blue1', 'blue2'), 'pass');
  t.is(obs('blue1', 'red'), 'fail');
  t.is(obs('red', 'blue1'), 'fail');
  t.regex(a.hairpin.reason, /^1\/1 replies from 10\.10\.0\.11$/);
});

test.serial('bond: eth1 goes down, eth2 takes over, the guest stays reachable', (t) => {
  const { r, a } = runPassing(t, ['bond'], 'vm-bond');
  t.regex(r.stdout, /ok bond bond0 \(active-backup\) of eth1, eth2 on kvm-01/);
  t.is(a['eth1-active'].status, 'pass');
  t.is(a['eth2-active'].status, 'pass');
  // replies through the backup member (under emulation one may come later than ping waits)
  t.regex(a['ping-after'].reason, /^[1-3]\/3 replies from 192\.168\.100\.\d+$/);
  t.is(a['ping-after'].observed, 'pass');
  t.regex(a.lease.reason, /from the DHCP server of lan$/);
});
