import test from 'ava';
import { formatPlan } from '../../src/cli/definitions.ts';
import { loadLab } from '../../src/lab/load.ts';
import { stableMac } from '../../src/lab/mac.ts';
import { buildPlan } from '../../src/runner/plan.ts';

test('kvm-macvtap resolves machines from the classic machines.yml', (t) => {
  const lab = loadLab('kvm-macvtap');
  const kvm = lab.machines.find((m) => m.name === 'kvm-01')!;
  t.is(kvm.role, 'hypervisor');
  t.is(kvm.ram, 2048); // "2048" in machines.yml
  t.is(kvm.nics[0]!.address, '192.168.100.101/24'); // ip_addr
  t.true(kvm.nested);
  t.regex(kvm.provision!, /playbooks\/provision\.yml$/);
  t.deepEqual(lab.libvirtNetworks, [
    { name: 'macvtap-net', on: 'kvm-01', xmlFile: lab.libvirtNetworks[0]!.xmlFile, forward: 'bridge', dev: 'eth1' },
  ]);
  const g = lab.guests[0]!;
  t.is(g.name, 'cirros');
  t.is(g.mac, stableMac('kvm-macvtap', 'cirros'));
  t.regex(g.mac, /^52:54:00(:[0-9a-f]{2}){3}$/);
  t.is(lab.assertions.length, 10);
  t.is(lab.assertions.find((a) => a.id === 'ping-host')!.expect, 'fail');
});

test('MACs are stable per lab and guest, and differ between them', (t) => {
  t.is(stableMac('a', 'g'), stableMac('a', 'g'));
  t.not(stableMac('a', 'g'), stableMac('b', 'g'));
  t.not(stableMac('a', 'g'), stableMac('a', 'h'));
});

test('the plan lists stages in order with the step ids and exact commands', (t) => {
  const plan = buildPlan(loadLab('kvm-macvtap'));
  t.deepEqual(
    plan.stages.map((s) => s.stage),
    ['preflight', 'up', 'provision', 'upload', 'setup', 'ready', 'assert', 'collect', 'teardown'],
  );
  const setup = plan.stages.find((s) => s.stage === 'setup')!.steps;
  t.deepEqual(
    setup.map((s) => s.id),
    ['net-define', 'net-start', 'promisc', 'guest'],
  );
  t.deepEqual(setup[2]!.commands, [['ip', 'link', 'set', 'dev', 'eth1', 'promisc', 'on']]);
  const virtInstall = setup[3]!.commands[1]!;
  t.is(virtInstall[0], 'virt-install');
  t.true(virtInstall.includes('--import'));
  t.is(virtInstall[virtInstall.indexOf('--virt-type') + 1], 'qemu');
  const text = formatPlan(plan);
  t.regex(text, /\[setup\]\n {2}net-define: define libvirt network "macvtap-net"/);
  t.regex(text, /\$ virsh net-start macvtap-net/);
});
