// Every assertion kind against output captured from the real tools (test/fixtures/captured/), replayed by a fake
// Executor: pass, fail, inconclusive and the expected failure, each with the line it reports.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import test from 'ava';
import { runAssertion } from '../../src/kinds/checks/index.ts';
import type { Session } from '../../src/kinds/session.ts';
import { loadLab } from '../../src/lab/load.ts';
import type { AssertionBase, Lab } from '../../src/lab/model.ts';
import { captured, FakeExecutor, fakeSession, fakeUnderlay, type Reply } from '../helpers/fakes.ts';

const lab: Lab = loadLab('kvm-macvtap');
const GUEST_IP = '192.168.100.183';
const byId = (id: string) => lab.assertions.find((a) => a.id === id)!;

/** kvm-01, remote-01 and the guest's console answering as they did in a real passing run. */
function session(o: { leases?: string; kvm?: Reply[]; remote?: Reply[]; guest?: Reply[] } = {}): Session {
  const kvm = new FakeExecutor('kvm-01', [
    ...(o.kvm ?? []),
    { when: /^cat \/var\/log\/libvirt\/qemu\/cirros-console\.log$/, stdout: captured('console-cirros.log') },
    { when: /^virsh domiflist cirros$/, stdout: captured('domiflist.txt') },
    { when: /^ip -j -d addr show dev macvtap0$/, stdout: captured('ip-addr-macvtap0.json') },
    { when: /^ip -j -d addr show dev eth1$/, stdout: captured('ip-addr-eth1.json') },
    { when: /^ping -c 1 -W 1 192\.168\.100\.183$/, exitCode: 1, stdout: captured('ping-iputils-lost.txt') },
  ]);
  const remote = new FakeExecutor('remote-01', [
    ...(o.remote ?? []),
    // expected to pass, a machine's ping may go on for a late reply (-w)
    { when: /^ping -c 1 -W 1 (-w 3 )?192\.168\.100\.183$/, stdout: captured('ping-iputils-ok.txt') },
    { when: /^ip -j -4 neigh show to 192\.168\.100\.183$/, stdout: captured('ip-neigh-remote.json') },
  ]);
  const guest = new FakeExecutor('cirros (console)', [
    ...(o.guest ?? []),
    { when: /^ping -c 1 -W 1 192\.168\.100\.102$/, stdout: captured('ping-busybox-ok.txt') },
    { when: /^cat \/proc\/net\/arp$/, stdout: captured('proc-net-arp.txt') },
    { when: /^ip -4 -o addr show dev eth0$/, stdout: captured('guest-ip-addr-eth0.txt') },
  ]);
  const s = fakeSession(lab, { 'kvm-01': kvm, 'remote-01': remote }, [
    fakeUnderlay('lan', o.leases ?? captured('dnsmasq.leases')),
  ]);
  s.consoles.set('cirros', guest);
  return s;
}

const NO_LEASE = '';

// dual stack: kvm-macvtap-dual, as remote-01 and kvm-01 answered in a real run
const dual: Lab = loadLab('kvm-macvtap-dual');
const dualById = (id: string) => dual.assertions.find((a) => a.id === id)!;
const SLAAC = 'fd00:100::5054:ff:feac:66b0';
function dualSession(o: { neigh?: string; console?: string } = {}): Session {
  const esc = SLAAC.replace(/\./g, '\\.');
  const remote = new FakeExecutor('remote-01', [
    { when: new RegExp(`^ping -c 1 -W 1 (-w 3 )?${esc}$`), stdout: captured('ping6-iputils-ok.txt') },
    { when: new RegExp(`^ip -j -6 neigh show to ${esc}$`), stdout: o.neigh ?? captured('ip-neigh6-remote.json') },
  ]);
  const kvm = new FakeExecutor('kvm-01', [
    { when: new RegExp(`^ping -c 1 -W 1 ${esc}$`), exitCode: 1, stdout: captured('ping6-iputils-lost.txt') },
    {
      when: /^cat \/var\/log\/libvirt\/qemu\/cirros-console\.log$/,
      stdout: o.console ?? captured('console-cirros-dual.log'),
    },
  ]);
  const s = fakeSession(dual, { 'kvm-01': kvm, 'remote-01': remote }, [fakeUnderlay('lan', '')]);
  s.consoles.set(
    'cirros',
    new FakeExecutor('cirros (console)', [
      { when: /^ip -6 -o addr show dev eth0 scope global$/, stdout: captured('guest-ip6-addr-eth0.txt') },
    ]),
  );
  return s;
}
const cases: { name: string; a: AssertionBase; s: () => Session; status: 'pass' | 'fail'; reason: RegExp }[] = [
  // lease
  {
    name: 'lease: held',
    a: byId('lease'),
    s: session,
    status: 'pass',
    reason: new RegExp(`holds ${GUEST_IP} from the DHCP server of lan`),
  },
  {
    name: 'lease: none',
    a: byId('lease'),
    s: () => session({ leases: NO_LEASE }),
    status: 'fail',
    reason: /^no lease for 52:54:00:ff:55:d1 on the DHCP server of lan$/,
  },
  {
    name: 'lease: none, as expected',
    a: { ...byId('lease'), expect: 'fail' },
    s: () => session({ leases: NO_LEASE }),
    status: 'pass',
    reason: /^fails as expected: no lease/,
  },
  // ping
  {
    name: 'ping: replies',
    a: byId('ping-remote'),
    s: session,
    status: 'pass',
    reason: new RegExp(`^1/1 replies from ${GUEST_IP}$`),
  },
  {
    name: 'ping: a late reply (the first echoes lost while the path settles) still passes',
    a: byId('ping-remote'),
    s: () =>
      session({
        remote: [{ when: /^ping -c 1 -W 1 -w 3 192\.168\.100\.183$/, stdout: captured('ping-iputils-late.txt') }],
      }),
    status: 'pass',
    reason: new RegExp(`^1/3 replies from ${GUEST_IP}$`),
  },
  {
    name: 'ping: expected failure holds',
    a: byId('ping-host'),
    s: session,
    status: 'pass',
    reason: /^fails as expected: 0\/1 replies/,
  },
  {
    name: 'ping: expected failure that worked',
    a: { ...byId('ping-remote'), expect: 'fail' },
    s: session,
    status: 'fail',
    reason: /^expected this to fail, but it worked: 1\/1 replies/,
  },
  {
    name: 'ping: network unreachable',
    a: byId('ping-remote'),
    s: () =>
      session({ remote: [{ when: /^ping /, exitCode: 2, stderr: captured('ping-iputils-unreachable.stderr') }] }),
    status: 'fail',
    reason: /^ping 192\.168\.100\.183 exited 2: ping: connect: Network is unreachable$/,
  },
  {
    name: 'ping: expected failure for the reason it names (because)',
    a: { ...byId('ping-host'), because: '0/1 replies' },
    s: session,
    status: 'pass',
    reason: /^fails as expected: 0\/1 replies/,
  },
  {
    name: 'ping: expected failure for another reason than because says',
    a: { ...byId('ping-remote'), expect: 'fail', because: '0/1 replies' },
    s: () =>
      session({ remote: [{ when: /^ping /, exitCode: 2, stderr: captured('ping-iputils-unreachable.stderr') }] }),
    status: 'fail',
    reason:
      /^fails, but not for the expected reason: expected \/0\/1 replies\/, saw: ping 192\.168\.100\.183 exited 2: ping: connect: Network is unreachable$/,
  },
  {
    name: 'ping: inconclusive without a lease',
    a: byId('ping-remote'),
    s: () => session({ leases: NO_LEASE }),
    status: 'fail',
    reason: /^cannot check: guest cirros holds no lease/,
  },
  {
    name: 'ping: inconclusive fails an expected failure too',
    a: { ...byId('ping-host') },
    s: () => session({ leases: NO_LEASE }),
    status: 'fail',
    reason: /^cannot check: /,
  },
  {
    name: 'ping: from the guest over its console (busybox)',
    a: byId('guest-ping-remote'),
    s: session,
    status: 'pass',
    reason: /^1\/1 replies from 192\.168\.100\.102$/,
  },
  // IPv6: the guest's SLAAC address (from its MAC), the NDP entry
  {
    name: 'ping: over IPv6 to the SLAAC address of the guest',
    a: dualById('ping-remote-v6'),
    s: dualSession,
    status: 'pass',
    reason: /^1\/1 replies from fd00:100::5054:ff:feac:66b0$/,
  },
  {
    name: 'ping: over IPv6, expected failure holds (macvtap isolation)',
    a: dualById('ping-host-v6'),
    s: dualSession,
    status: 'pass',
    reason: /^fails as expected: 0\/1 replies from fd00:100::5054:ff:feac:66b0$/,
  },
  {
    name: 'neighbour: the NDP entry carries the guest MAC',
    a: dualById('neighbour'),
    s: dualSession,
    status: 'pass',
    reason: /^fd00:100::5054:ff:feac:66b0 is at 52:54:00:ac:66:b0 \(REACHABLE\) on eth1$/,
  },
  {
    name: 'lease: IPv6, the SLAAC address the guest reports',
    a: dualById('lease-v6'),
    s: dualSession,
    status: 'pass',
    reason: /^52:54:00:ac:66:b0 holds fd00:100::5054:ff:feac:66b0 \(SLAAC, the guest reports it\)$/,
  },
  {
    name: 'lease: IPv6, none reported',
    a: dualById('lease-v6'),
    s: () => dualSession({ console: captured('console-cirros-dual.log').replace(/virtlab-guest ipv6 [^\n]*/, '') }),
    status: 'fail',
    reason: /^cirros reports no IPv6 address fd00:100::5054:ff:feac:66b0: no router advertisement reached it\?$/,
  },
  {
    name: 'guest-ip: IPv6, the guest has its SLAAC address',
    a: dualById('guest-ip-v6'),
    s: dualSession,
    status: 'pass',
    reason: /^eth0 of cirros has fd00:100::5054:ff:feac:66b0; SLAAC address fd00:100::5054:ff:feac:66b0$/,
  },
  {
    name: 'neighbour: no entry',
    a: dualById('neighbour'),
    s: () => dualSession({ neigh: '[]' }),
    status: 'fail',
    reason: /^remote-01 has no neighbour entry with a MAC for fd00:100::5054:ff:feac:66b0$/,
  },
  // arp
  {
    name: 'arp: the entry carries the guest MAC',
    a: byId('arp'),
    s: session,
    status: 'pass',
    reason: /is at 52:54:00:ff:55:d1 \(REACHABLE\) on eth1$/,
  },
  {
    name: 'arp: another MAC',
    a: byId('arp'),
    s: () =>
      session({
        remote: [
          {
            when: /^ip -j -4 neigh/,
            stdout: captured('ip-neigh-remote.json').replace('52:54:00:ff:55:d1', '52:54:00:12:34:56'),
          },
        ],
      }),
    status: 'fail',
    reason: /is at 52:54:00:12:34:56, expected 52:54:00:ff:55:d1$/,
  },
  {
    name: 'arp: from the guest (/proc/net/arp)',
    a: byId('guest-arp'),
    s: session,
    status: 'pass',
    reason: /^192\.168\.100\.102 is at 52:54:00:[0-9a-f:]{8} on eth0$/,
  },
  {
    name: 'arp: inconclusive without a lease',
    a: byId('arp'),
    s: () => session({ leases: NO_LEASE }),
    status: 'fail',
    reason: /^cannot check: guest cirros holds no lease, so it has no address to resolve/,
  },
  // mac-match
  {
    name: 'mac-match: lab, guest and device agree',
    a: byId('mac-match'),
    s: session,
    status: 'pass',
    reason: /guest says 52:54:00:ff:55:d1, macvtap0 on kvm-01 has 52:54:00:ff:55:d1$/,
  },
  {
    name: 'mac-match: the device has another MAC',
    a: byId('mac-match'),
    s: () =>
      session({
        kvm: [
          {
            when: /^ip -j -d addr show dev macvtap0$/,
            stdout: captured('ip-addr-macvtap0.json').replace('52:54:00:ff:55:d1', '52:54:00:00:00:01'),
          },
        ],
      }),
    status: 'fail',
    reason: /macvtap0 on kvm-01 has 52:54:00:00:00:01$/,
  },
  // link
  {
    name: 'link: promiscuous',
    a: byId('link-promisc'),
    s: session,
    status: 'pass',
    reason: /^eth1 \(veth\) on kvm-01: PROMISC set \(promiscuity 2\)$/,
  },
  {
    name: 'link: not promiscuous, as expected',
    a: { ...byId('link-promisc'), expect: 'fail' },
    s: session,
    status: 'fail',
    reason: /^expected this to fail, but it worked/,
  },
  {
    name: 'link: the macvtap has no IPv4',
    a: byId('link-macvtap'),
    s: session,
    status: 'pass',
    reason: /^macvtap0 \(macvtap\) on kvm-01: no IPv4 address$/,
  },
  {
    name: 'link: the device is gone',
    a: byId('link-promisc'),
    s: () =>
      session({
        kvm: [{ when: /^ip -j -d addr show dev eth1$/, exitCode: 1, stderr: 'Device "eth1" does not exist.' }],
      }),
    status: 'fail',
    reason: /^eth1 does not exist on kvm-01$/,
  },
  // guest-ip
  {
    name: 'guest-ip: the guest has its lease',
    a: byId('guest-ip'),
    s: session,
    status: 'pass',
    reason: new RegExp(`^eth0 of cirros has ${GUEST_IP}; lease ${GUEST_IP}$`),
  },
  {
    name: 'guest-ip: another address',
    a: byId('guest-ip'),
    s: () =>
      session({
        guest: [
          { when: /^ip -4 -o addr/, stdout: captured('guest-ip-addr-eth0.txt').replace(GUEST_IP, '192.168.100.9') },
        ],
      }),
    status: 'fail',
    reason: new RegExp(`has 192\\.168\\.100\\.9; lease ${GUEST_IP}$`),
  },
  // reachability
  {
    name: 'reachability: a grid of two pairs',
    a: {
      id: 'grid',
      kind: 'reachability',
      expect: 'pass',
      points: 1,
      cells: [
        { from: 'remote-01', to: { type: 'guest', name: 'cirros' }, expect: 'pass' },
        { from: 'kvm-01', to: { type: 'guest', name: 'cirros' }, expect: 'fail' },
      ],
    } as AssertionBase,
    s: session,
    status: 'pass',
    reason: /^2\/2 pairs as expected$/,
  },
  // seen-source
  {
    name: 'seen-source: the capture shows the expected source',
    a: {
      id: 'src',
      kind: 'seen-source',
      expect: 'pass',
      points: 1,
      from: 'cirros',
      to: 'remote-01',
      source: { type: 'ip', ip: '10.0.50.11' },
    } as AssertionBase,
    s: () =>
      session({
        remote: [{ when: /^timeout 10 tcpdump /, stdout: captured('tcpdump-echo.txt') }],
        guest: [{ when: /^ping -c 3 /, stdout: captured('ping-busybox-3.txt') }],
      }),
    status: 'pass',
    reason: /^remote-01 sees cirros's pings coming from 10\.0\.50\.11 \(expected 10\.0\.50\.11\)$/,
  },
  {
    name: 'seen-source: another source',
    a: {
      id: 'src',
      kind: 'seen-source',
      expect: 'pass',
      points: 1,
      from: 'cirros',
      to: 'remote-01',
      source: { type: 'machine', name: 'kvm-01' },
    } as AssertionBase,
    s: () =>
      session({
        remote: [{ when: /^timeout 10 tcpdump /, stdout: captured('tcpdump-echo.txt') }],
        guest: [{ when: /^ping -c 3 /, stdout: captured('ping-busybox-3.txt') }],
      }),
    status: 'fail',
    reason: /coming from 10\.0\.50\.11 \(expected 192\.168\.100\.101\)$/,
  },
];

const golden: Record<string, { status: string; observed: string; reason: string }> = {};

for (const c of cases) {
  test.serial(c.name, async (t) => {
    const r = await runAssertion(c.a, c.s());
    t.is(r.status, c.status, r.reason);
    t.regex(r.reason, c.reason);
    t.true(
      r.evidence.every((e) => e.argv.length > 0),
      'every piece of evidence names its command',
    );
    golden[c.name] = { status: r.status, observed: r.observed, reason: r.reason };
  });
}

test.serial(
  'a ping expected to pass waits for a late reply (-w); an expected failure and a guest wait for one',
  async (t) => {
    const s = session();
    const argvOf = async (a: AssertionBase) =>
      (await runAssertion(a, s)).evidence.find((e) => e.argv[0] === 'ping')?.argv.join(' ');
    t.is(await argvOf(byId('ping-remote')), `ping -c 1 -W 1 -w 3 ${GUEST_IP}`);
    t.is(await argvOf({ ...byId('ping-remote'), expect: 'fail' }), `ping -c 1 -W 1 ${GUEST_IP}`);
    t.is(await argvOf(byId('ping-host')), `ping -c 1 -W 1 ${GUEST_IP}`);
    t.is(await argvOf(byId('guest-ping-remote')), 'ping -c 1 -W 1 192.168.100.102');
  },
);

test.serial('every assertion kind is covered, and the lines match the golden file', (t) => {
  const kinds = new Set(cases.map((c) => c.a.kind));
  for (const k of ['lease', 'ping', 'arp', 'neighbour', 'mac-match', 'link', 'guest-ip', 'reachability', 'seen-source'])
    t.true(kinds.has(k), k);
  const file = 'test/fixtures/golden/checks.json';
  const text = `${JSON.stringify(golden, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN || !existsSync(file)) writeFileSync(file, text);
  t.is(text, readFileSync(file, 'utf8'));
});
