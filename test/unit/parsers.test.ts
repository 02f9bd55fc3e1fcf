// Parsers tested on output captured from the real tools (test/fixtures/captured).

import { readFileSync } from 'node:fs';
import test from 'ava';
import { parseDnsmasqLeases, parseVirshLeases } from '../../src/hypervisor/parse/leases.ts';
import {
  bootCount,
  parseDomiflist,
  parseIpAddrJson,
  parseIpv6Lines,
  parseNeighJson,
  parseReadyLine,
} from '../../src/hypervisor/parse/virsh.ts';
import { parseNetworkXml } from '../../src/lab/netxml.ts';
import { stalledMachines, troubledGuests } from '../../src/runner/collect.ts';

const cap = (f: string) => readFileSync(`test/fixtures/captured/${f}`, 'utf8');

test('virsh domiflist: the device name is read, not assumed', (t) => {
  t.deepEqual(parseDomiflist(cap('domiflist.txt')), [
    { iface: 'macvtap0', type: 'direct', source: 'macvtap-net', model: 'virtio', mac: '52:54:00:ff:55:d1' },
  ]);
});

test('dnsmasq lease file', (t) => {
  const [l] = parseDnsmasqLeases(cap('dnsmasq.leases'));
  t.is(l!.mac, '52:54:00:ff:55:d1');
  t.is(l!.ip, '192.168.100.183');
  t.is(l!.hostname, 'cirros');
});

test('virsh net-dhcp-leases', (t) => {
  const text = ` Expiry Time           MAC address         Protocol   IP address           Hostname   Client ID or DUID
-----------------------------------------------------------------------------------------------------------
 2026-11-26 16:01:02   52:54:00:58:e4:7f   ipv4       192.168.122.113/24   node-1     -
 2026-11-26 16:01:05   52:54:00:ae:45:66   ipv4       192.168.122.181/24   -          01:52:54:00:ae:45:66
`;
  t.deepEqual(
    parseVirshLeases(text).map((l) => [l.mac, l.ip, l.hostname]),
    [
      ['52:54:00:58:e4:7f', '192.168.122.113', 'node-1'],
      ['52:54:00:ae:45:66', '192.168.122.181', undefined],
    ],
  );
});

test('ip -j -d addr: flags, kind, IPv4 addresses', (t) => {
  const [eth1] = parseIpAddrJson(cap('ip-addr-eth1.json'));
  t.true(eth1!.flags.includes('PROMISC'));
  t.deepEqual(eth1!.ipv4, ['192.168.100.101/24']);
  const [mv] = parseIpAddrJson(cap('ip-addr-macvtap0.json'));
  t.is(mv!.kind, 'macvtap');
  t.deepEqual(mv!.ipv4, []);
  t.is(mv!.address, '52:54:00:ff:55:d1');
});

test('ip -j neigh', (t) => {
  t.deepEqual(parseNeighJson(cap('ip-neigh-guest.json')), [
    { dst: '192.168.100.183', lladdr: '52:54:00:ff:55:d1', state: ['REACHABLE'], dev: 'eth1' },
  ]);
});

test("the guest's ready line on its console", (t) => {
  t.deepEqual(parseReadyLine(cap('console-cirros.log')), {
    hostname: 'cirros',
    ip: '192.168.100.183',
    mac: '52:54:00:ff:55:d1',
  });
  t.is(parseReadyLine('booting...\n'), undefined);
});

test("a libvirt network's IPv6 side: <ip family='ipv6'>, a unique local /64, or a clear refusal", (t) => {
  const nat = parseNetworkXml(readFileSync('labs/kvm-nat-dual/nat.xml', 'utf8'));
  t.like(nat, { name: 'natntw', forward: 'nat', v6: { subnet: 'fd00:122::/64', gateway: 'fd00:122::1' } });
  const v4only = parseNetworkXml(readFileSync('labs/kvm-nat-hostonly/nat.xml', 'utf8'));
  t.false('v6' in v4only);
  const wide = parseNetworkXml(
    "<network><name>n</name><ip family='ipv6' address='fd00:1::1' prefix='48'/></network>",
  ) as { error: string };
  t.regex(wide.error, /network n: <ip family='ipv6'> needs an address in a unique local \/64 .*must be 64/);
});

test("the guest's IPv6 line: the SLAAC address, once duplicate detection passed, in RFC 5952 form", (t) => {
  // the line follows a shell prompt on the same console line, as captured
  t.deepEqual(parseIpv6Lines(cap('console-cirros-dual.log')), ['fd00:100::5054:ff:feac:66b0']);
  t.deepEqual(parseIpv6Lines(cap('console-cirros.log')), []);
});

test('a guest that rebooted during the checks (captured in CI: nested KVM under TCG) shows two boots, one that hung printed nothing', (t) => {
  t.is(bootCount(cap('console-cirros.log')), 1);
  t.is(bootCount(cap('console-cirros-rebooted.log')), 2);
  t.is(bootCount('booting...\n'), 0);
  t.deepEqual(
    troubledGuests([
      'test/fixtures/captured/console-cirros.log',
      'test/fixtures/captured/console-cirros-rebooted.log',
      'test/fixtures/captured/console-empty.log',
    ]),
    { rebooted: ['console-cirros-rebooted'], silent: ['console-empty'] },
  );
});

test('a VM machine whose kernel stalled (RCU stall in CI, nested KVM under TCG) is named with the line; a healthy one is not', (t) => {
  t.deepEqual(
    stalledMachines([
      { machine: 'kvm-01', text: cap('console-vm-rcu-stall.log') },
      { machine: 'kvm-02', text: cap('console-cirros.log') },
    ]),
    [{ machine: 'kvm-01', line: 'rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:' }],
  );
  const panic = '[   12.5] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009\n';
  t.is(
    stalledMachines([{ machine: 'm', text: panic }])[0]?.line,
    'Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009',
  );
  const lockup = '[  52.1] watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [qemu-system-x86:812]\n';
  t.is(stalledMachines([{ machine: 'm', text: lockup }]).length, 1);
});

test('libvirt network XML: name, forward mode, device', (t) => {
  t.deepEqual(parseNetworkXml(readFileSync('labs/kvm-macvtap/macvtap.xml', 'utf8')), {
    name: 'macvtap-net',
    forward: 'bridge',
    dev: 'eth1',
    bridge: undefined,
  });
  t.deepEqual(parseNetworkXml("<network><name>hostntw</name><bridge name='virbr2'/></network>"), {
    name: 'hostntw',
    forward: 'isolated',
    dev: undefined,
    bridge: 'virbr2',
  });
  t.like(parseNetworkXml("<network><name>n</name><forward mode='nat'/></network>"), { forward: 'nat' });
  t.true('error' in parseNetworkXml('<network><name>a b;c</name></network>'));
  t.true('error' in parseNetworkXml('<domain/>'));
});
