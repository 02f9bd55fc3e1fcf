// Host state: each section's output (captured from a real kvm-nat-hostonly hypervisor: libvirt 9.0 with
// iptables-nft) as comparable lines, without what changes from run to run, and the difference between two states.
import test from 'ava';
import {
  addressLines,
  diffHostState,
  iptablesLines,
  libvirtLines,
  linkLines,
  nftLines,
  stateDiffText,
} from '../../src/report/host-state.ts';
import { captured } from '../helpers/fakes.ts';

test('links and addresses: kind, master and flags; global addresses only; loopback left out', (t) => {
  const links = linkLines(captured('ip-link-d-kvm01.json'));
  t.true(links.includes('virbr1 bridge mtu 1500 LOWER_UP,UP'), links.join('\n'));
  t.true(links.some((l) => /^vnet0 tun master virbr1 /.test(l)));
  t.false(links.some((l) => l.startsWith('lo ')));
  const addrs = addressLines(captured('ip-addr-kvm01.json'));
  t.true(addrs.includes('virbr1 192.168.100.1/24'));
  t.false(addrs.some((a) => a.includes('fe80:')));
});

test('nftables and iptables: rules with their table and chain, no counters or handles', (t) => {
  const nft = nftLines(captured('nft-ruleset-libvirt9.txt'));
  t.true(
    nft.includes('ip filter LIBVIRT_INP: iifname "virbr2" udp dport 67 counter accept'),
    nft.slice(0, 5).join('\n'),
  );
  t.false(nft.some((l) => /packets \d|# handle/.test(l)));
  const ipt = iptablesLines(captured('iptables-save-libvirt9.txt'));
  t.true(
    ipt.some((l) => /^nat: -A LIBVIRT_PRT -s 192\.168\.100\.0\/24 .*-j MASQUERADE/.test(l)),
    ipt.join('\n'),
  );
  t.false(ipt.some((l) => /\[\d+:\d+\]|^#|COMMIT/.test(l)));
  // which kernel interface iptables writes to: iptables -V comes first
  t.deepEqual(iptablesLines('iptables v1.8.9 (nf_tables)\n*nat\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n'), [
    'backend: nf_tables',
    'nat: :POSTROUTING ACCEPT',
  ]);
  t.is(iptablesLines('iptables v1.8.7 (legacy)\n')[0], 'backend: legacy');
});

test("libvirt's XML: per network and domain, without UUIDs, port ids, ptys, the domain's id, a NAT bridge's MAC", (t) => {
  const out = `== network natntw\n${captured('net-dumpxml-natntw.xml')}\n== domain guest-nat\n${captured('dumpxml-guest-nat.xml')}`;
  const lines = libvirtLines(out);
  t.true(lines.includes("network natntw: <forward mode='nat'>"), lines.slice(0, 8).join('\n'));
  t.true(lines.includes("domain guest-nat: <domain type='qemu'>"));
  t.true(lines.includes("domain guest-nat: <mac address='52:54:00:b1:44:07'/>"), "a guest's MAC is the lab's own");
  t.false(lines.some((l) => /<uuid>|portid=|\/dev\/pts\/\d|network natntw: <mac address/.test(l)));
});

test('the difference: per machine and section, lines only in one run; the text shows a few of them', (t) => {
  const a = { 'kvm-01': { iptables: ['nat: -A P -j MASQUERADE', 'filter: :INPUT ACCEPT'], routes: ['r1'] } };
  const b = {
    'kvm-01': { iptables: ['filter: :INPUT ACCEPT'], nftables: ['ip libvirt_network n: masquerade'], routes: ['r1'] },
  };
  const d = diffHostState(a, b);
  t.deepEqual(d, [
    { machine: 'kvm-01', section: 'nftables', onlyA: [], onlyB: [], readIn: 'b' },
    { machine: 'kvm-01', section: 'iptables', onlyA: ['nat: -A P -j MASQUERADE'], onlyB: [] },
  ]);
  t.deepEqual(stateDiffText(d), [
    '  kvm-01 nftables: read in the second run only (the first machine lacks the tool)',
    '  kvm-01 iptables: 1 only in the first, 0 only in the second',
    '    - nat: -A P -j MASQUERADE',
  ]);
  t.deepEqual(diffHostState(a, a), []);
});
