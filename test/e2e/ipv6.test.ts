// Dual stack on real components: the LAN's dnsmasq announces a /64, the guest's kernel forms its SLAAC address, and
// the IPv4 expectations of kvm-macvtap hold over IPv6 (macvtap isolation included), observed, not assumed.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { leftovers, orphanNamespaceProcesses, virtlab } from '../helpers/host.ts';

test.serial(
  'kvm-macvtap-dual: the guest takes its SLAAC address; remote-01 reaches it over IPv6, kvm-01 does not',
  (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'virtlab-ipv6-'));
    const r = virtlab(['run', 'kvm-macvtap-dual', '--name', 'e2e-dual', '--report-dir', dir]);
    t.is(r.code, 0, r.out);
    const rep = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    const a = Object.fromEntries(rep.assertions.map((x: any) => [x.id, x]));
    // the guest reports the SLAAC address its MAC forms, and has it on eth0
    t.regex(
      a['lease-v6'].reason,
      /holds fd00:100::5054:ff:fe[0-9a-f]{2}:[0-9a-f]{1,4} \(SLAAC, the guest reports it\)$/,
    );
    t.is(a['guest-ip-v6'].status, 'pass', a['guest-ip-v6'].reason);
    // the SLAAC address of the guest's MAC, answering pings
    t.is(a['ping-remote-v6'].observed, 'pass');
    t.regex(a['ping-remote-v6'].reason, /^1\/1 replies from fd00:100::5054:ff:fe[0-9a-f]{2}:[0-9a-f]{1,4}$/);
    t.regex(a.neighbour.reason, /^fd00:100::5054:\S+ is at 52:54:00:[0-9a-f:]{8} .*on eth1$/);
    // macvtap isolates kvm-01 from its guest over IPv6 too: observed as a failure
    t.is(a['ping-host-v6'].observed, 'fail');
    t.is(a['ping-host-v6'].status, 'pass');
    t.regex(a['guest-ping-remote-v6'].reason, /replies from fd00:100::102$/);
    const cells = a['grid-v6'].cells as { from: string; to: string; observed: string }[];
    const obs = (f: string, to: string) => cells.find((c) => c.from === f && c.to === to)?.observed;
    t.is(obs('remote-01', 'kvm-01'), 'pass');
    t.is(obs('kvm-01', 'cirros'), 'fail');
    // the LAN's router advertised the prefix, and its log is in the report
    t.regex(
      readFileSync(join(dir, 'consoles', 'network-lan-dnsmasq.log'), 'utf8'),
      /router advertisement on fd00:100::/,
    );
    t.deepEqual(leftovers('e2e-dual', rep.runId), []);
    t.deepEqual(orphanNamespaceProcesses(), []);
  },
);

test.serial(
  "kvm-nat-dual: libvirt's NAT network in dual stack masquerades IPv6 behind kvm-01 and keeps the outside out",
  (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'virtlab-ipv6-'));
    const r = virtlab(['run', 'kvm-nat-dual', '--name', 'e2e-natdual', '--report-dir', dir]);
    t.is(r.code, 0, r.out);
    const rep = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    const a = Object.fromEntries(rep.assertions.map((x: any) => [x.id, x]));
    // libvirt's dnsmasq announced fd00:122::/64: the guest's SLAAC address answers kvm-01
    t.regex(a['host-v6'].reason, /^1\/1 replies from fd00:122::5054:ff:fe/);
    t.regex(a['nat-out-v6'].reason, /^1\/1 replies from fd00:50::12$/);
    // NAT66: remote-01 sees kvm-01's address; with a route to the guest's prefix it still cannot reach it
    t.regex(a['nat-source-v6'].reason, /coming from fd00:50::11 \(expected fd00:50::11\)$/);
    t.is(a['nat-in-v6'].observed, 'fail');
    t.deepEqual(leftovers('e2e-natdual', rep.runId), []);
    t.deepEqual(orphanNamespaceProcesses(), []);
  },
);
