// Host networks: the device step kinds (what they run, what they declare), where a guest's lease comes from behind a
// bridge or a bond, the generic command check, and the kernel features each lab needs of a namespace machine.

import test from 'ava';
import { command } from '../../src/kinds/checks/command.ts';
import { runAssertion } from '../../src/kinds/checks/index.ts';
import { guestLease } from '../../src/kinds/facts.ts';
import { stepCommands, stepRequires } from '../../src/kinds/steps/index.ts';
import { leaseSource, underlayOf } from '../../src/lab/lease-source.ts';
import { loadLab } from '../../src/lab/load.ts';
import type { AssertionBase, Lab, Machine } from '../../src/lab/model.ts';
import { createProvider } from '../../src/providers/index.ts';
import { hostNeeds, requirementProblems } from '../../src/runner/requirements.ts';
import { captured, FakeExecutor, fakeSession, fakeUnderlay } from '../helpers/fakes.ts';

const step = (lab: Lab, id: string) => lab.steps.find((s) => s.id === id)!;
const lines = (argvs: string[][]) => argvs.map((a) => a.join(' '));

test('bridge: builds br0 on eth1, moves the address, and declares br0 over eth1', (t) => {
  const lab = loadLab('linux-bridge');
  t.deepEqual(lines(stepCommands(step(lab, 'bridge'))), [
    'ip link add name br0 type bridge stp_state 0',
    'ip link set dev eth1 master br0',
    'ip link set dev eth1 up',
    'ip addr del 192.168.100.101/24 dev eth1',
    'ip addr add 192.168.100.101/24 dev br0',
    'ip link set dev br0 up',
  ]);
  t.deepEqual(lab.devices, [
    { type: 'bridge', over: ['eth1'], on: 'kvm-01', name: 'br0', step: 'bridge', address: '192.168.100.101/24' },
  ]);
  t.deepEqual(stepRequires(step(lab, 'bridge')), ['bridge']);
  const net = lab.libvirtNetworks[0]!;
  t.is(net.bridge, 'br0');
  // the guest on the host bridge gets its lease from the LAN's DHCP server, not from libvirt
  t.deepEqual(leaseSource(lab, lab.guests[0]!), { type: 'underlay', network: 'lan' });
});

test('vlan, bond, macvlan, ovs-bridge: the commands each runs', (t) => {
  const vlan = loadLab('vlan', undefined, 'vm');
  t.deepEqual(lines(stepCommands(step(vlan, 'vlan-remote'))), [
    'ip link add link eth1 name eth1.100 type vlan protocol 802.1Q id 100',
    'ip addr add 10.100.0.2/24 dev eth1.100',
    'ip link set dev eth1.100 up',
  ]);
  const bond = loadLab('bond');
  t.deepEqual(lines(stepCommands(step(bond, 'bond'))), [
    'ip link add name bond0 type bond mode active-backup miimon 100',
    'ip link set dev eth1 down',
    'ip link set dev eth1 master bond0',
    'ip link set dev eth1 up',
    'ip link set dev eth2 down',
    'ip link set dev eth2 master bond0',
    'ip link set dev eth2 up',
    'ip link set dev bond0 up',
  ]);
  const mha = loadLab('macvlan-host-access');
  const mv = lines(stepCommands(step(mha, 'macvlan')));
  t.regex(mv[0]!, /^ip link add link eth1 name vlan0 address 52:54:00(:[0-9a-f]{2}){3} type macvlan mode bridge$/);
  t.deepEqual(mv.slice(1), [
    'ip addr del 192.168.100.101/24 dev eth1',
    'ip addr add 192.168.100.101/24 dev vlan0',
    'ip link set dev vlan0 up',
  ]);
  const ovs = loadLab('ovs');
  t.deepEqual(lines(stepCommands(step(ovs, 'ovs'))), ['ovs-vsctl add-br br1', 'ip link set dev br1 up']);
  t.deepEqual(stepRequires(step(ovs, 'ovs')), ['openvswitch']);
  t.is(ovs.libvirtNetworks.find((n) => n.name === 'ovs-tag20')?.vlan, 20);
  t.is(ovs.libvirtNetworks.find((n) => n.name === 'ovs-tag20')?.virtualport, 'openvswitch');
});

test('underlayOf: through a bridge and a bond to the NIC, never through a VLAN', (t) => {
  const bond = loadLab('bond');
  t.is(underlayOf(bond, 'kvm-01', 'br0'), 'lan');
  t.is(underlayOf(bond, 'kvm-01', 'bond0'), 'lan');
  const vlan = loadLab('vlan', undefined, 'vm');
  t.is(underlayOf(vlan, 'kvm-01', 'eth1'), 'wire');
  t.is(underlayOf(vlan, 'kvm-01', 'eth1.100'), undefined);
});

test('a bridge a command step built: its ports are asked of the machine when the lease is looked up', async (t) => {
  const lab = loadLab('test/fixtures/labs/bridge-by-command.yml');
  const g = lab.guests[0]!;
  t.deepEqual(leaseSource(lab, g), { type: 'ports', machine: 'kvm-01', dev: 'br0' });
  const leases = `1 ${g.mac} 192.168.100.160 cirros *\n`;
  const kvm = new FakeExecutor('kvm-01', [
    { when: /^ip -j link show master br0$/, stdout: '[{"ifname":"eth1"},{"ifname":"vnet0"}]' },
  ]);
  const s = fakeSession(lab, { 'kvm-01': kvm }, [fakeUnderlay('lan', leases)]);
  t.is((await guestLease(s, g)).lease?.ip, '192.168.100.160');
  // a bridge without a port on the LAN: no lease, and the evidence says why
  const lonely = new FakeExecutor('kvm-01', [{ when: /^ip -j link show master br0$/, stdout: '[{"ifname":"vnet0"}]' }]);
  const r = await guestLease(fakeSession(lab, { 'kvm-01': lonely }, [fakeUnderlay('lan', leases)]), g);
  t.is(r.lease, undefined);
  t.is(r.evidence.stdout, 'br0 on kvm-01 has ports vnet0, none on an underlay network');
});

test('kernel features: a namespace machine needs them of this host, a VM machine does not', async (t) => {
  const netns = createProvider('netns');
  const needs = hostNeeds(loadLab('vlan', undefined, 'netns'), netns);
  t.deepEqual(
    needs.map((n) => `${n.step} ${n.kind} ${n.machine} ${n.feature}`),
    ['vlan-kvm vlan kvm-01 8021q', 'vlan-remote vlan remote-01 8021q'],
  );
  t.deepEqual(hostNeeds(loadLab('vlan', undefined, 'vm'), netns), []);
  const without = async () => new Map([['8021q' as const, false]]);
  const problems = await requirementProblems(loadLab('vlan', undefined, 'netns'), netns, without);
  t.is(problems.length, 2);
  t.is(
    problems[0]!.what,
    "step vlan-kvm (vlan) on kvm-01 needs 802.1Q VLANs (the 8021q module), which this host's kernel lacks (kvm-01 is a namespace sharing it)",
  );
  t.regex(problems[0]!.hint!, /^make kvm-01 a VM for this lab: machines: \{ kvm-01: \{ role: hypervisor, provider: vm/);
  const withIt = async () => new Map([['8021q' as const, true]]);
  t.deepEqual(await requirementProblems(loadLab('vlan', undefined, 'netns'), netns, withIt), []);
  // the lab's own choice wins over the provider's default
  const m = loadLab('bond').machines.find((x) => x.name === 'kvm-01') as Machine;
  t.false(netns.sharesHostKernel(m));
});

test('command check: exit code, output pattern and a value of its JSON output', async (t) => {
  const lab = loadLab('linux-bridge');
  const a = lab.assertions.find((x) => x.id === 'eth1-port')!;
  const json = (master: string) => `[{"ifindex":3,"ifname":"eth1","master":"${master}"}]`;
  const run = async (reply: { stdout?: string; exitCode?: number }, over: Partial<AssertionBase> = {}) => {
    const kvm = new FakeExecutor('kvm-01', [{ when: /^ip -j link show dev eth1$/, ...reply }]);
    return runAssertion({ ...a, ...over }, fakeSession(lab, { 'kvm-01': kvm }));
  };
  t.is((await run({ stdout: json('br0') })).status, 'pass');
  const other = await run({ stdout: json('br9') });
  t.is(other.status, 'fail');
  t.is(other.reason, 'exit 0, but 0.master is "br9", not "br0"');
  const failed = await run({ exitCode: 1, stdout: 'Device "eth1" does not exist.' });
  t.is(failed.status, 'fail');
  t.is(failed.reason, 'exit 1 (expected 0): Device "eth1" does not exist.');
  t.is((await run({ stdout: 'not json' })).reason, 'exit 0, but stdout is not JSON');
  // expected to fail, and it does
  t.is((await run({ stdout: json('br9') }, { expect: 'fail' } as Partial<AssertionBase>)).status, 'pass');
  t.is(command.title(a as never), '`ip -j link show dev eth1` on kvm-01 exits 0 with 0.master = "br0"');
  t.truthy(captured('dnsmasq.leases'));
});
