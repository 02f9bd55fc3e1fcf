// IPv6 for dual-stack labs: prefixes, addresses, the SLAAC address a MAC forms, and what a dual-stack lab resolves to.
import test from 'ava';
import { machineIp6 } from '../../src/kinds/facts.ts';
import { eui64, formatIp6, mirrorOffset, overlaps6, parseCidr6, parseIp6, unusable6 } from '../../src/lab/ipv6.ts';
import { guestIp6 } from '../../src/lab/lease-source.ts';
import { loadLab } from '../../src/lab/load.ts';

const cidr = (s: string) => {
  const c = parseCidr6(s);
  if ('error' in c) throw new Error(c.error);
  return c;
};

test('addresses: parsed strictly, printed in RFC 5952 form', (t) => {
  t.is(formatIp6(parseIp6('FD00:0100:0000:0000:0000:0000:0000:0010')!), 'fd00:100::10');
  for (const bad of ['fd00::1%eth0', '192.168.1.1', 'fd00:::1', 'fd00::g', '', 'fd00::1/64'])
    t.is(parseIp6(bad), undefined, bad);
  t.is(unusable6(parseIp6('fd12:3456::1')!), undefined);
  t.is(unusable6(parseIp6('ff02::1')!), 'a multicast address');
  t.is(unusable6(parseIp6('fe80::1')!), 'a link local address');
});

test('prefixes: unique local /64s only, without host bits', (t) => {
  t.is(cidr('fd00:100::/64').text, 'fd00:100::/64');
  t.regex((parseCidr6('fd00:100::/48') as { error: string }).error, /must be 64/);
  t.regex((parseCidr6('fd00:100::1/64') as { error: string }).error, /host bits set; the prefix is fd00:100::\/64/);
  t.regex((parseCidr6('2001:db8::/64') as { error: string }).error, /not a unique local prefix/);
  t.regex((parseCidr6('192.168.0.0/64') as { error: string }).error, /not an IPv6 prefix/);
  t.true(overlaps6(cidr('fd00:100::/64'), cidr('fd00:100::/64')));
  t.false(overlaps6(cidr('fd00:100::/64'), cidr('fd00:101::/64')));
});

test('SLAAC: the modified EUI-64 of a MAC, and the host number that mirrors IPv4', (t) => {
  // 52:54:00:ff:55:d1 -> 5054:00ff:feff:55d1 (U/L bit flipped, ff:fe inserted)
  t.is(formatIp6(eui64(cidr('fd00:100::/64'), '52:54:00:ff:55:d1')), 'fd00:100::5054:ff:feff:55d1');
  t.is(formatIp6(eui64(cidr('fd00:100::/64'), '00:11:22:33:44:55')), 'fd00:100::211:22ff:fe33:4455');
  t.is(mirrorOffset(101), 0x101n);
  t.is(mirrorOffset(65534), 65534n);
});

test('a dual-stack lab: the LAN announces its /64, NICs mirror their IPv4 address, the guest has its SLAAC address', (t) => {
  const lab = loadLab('kvm-macvtap-dual');
  t.deepEqual(lab.networks[0]!.v6, { subnet: 'fd00:100::/64', prefix: 64, gateway: 'fd00:100::1' });
  const nic = (m: string) => lab.machines.find((x) => x.name === m)!.nics[0]!;
  t.is(nic('kvm-01').address6, 'fd00:100::101/64');
  t.is(nic('remote-01').address6, 'fd00:100::102/64');
  t.is(machineIp6(lab, 'remote-01'), 'fd00:100::102');
  const g = lab.guests[0]!;
  t.deepEqual(guestIp6(lab, g), { ip: formatIp6(eui64(cidr('fd00:100::/64'), g.mac)) });
  // an IPv4-only lab has none of it, and says why
  const v4 = loadLab('kvm-macvtap');
  t.is(v4.machines[0]!.nics[0]!.address6, undefined);
  t.regex(guestIp6(v4, v4.guests[0]!).why!, /network lan announces no IPv6 prefix/);
});
