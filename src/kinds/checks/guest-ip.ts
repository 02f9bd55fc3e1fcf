// guest-ip: the address the guest itself has (read over its serial console) equals its DHCP lease, or over IPv6,
// the SLAAC address its MAC forms on the prefix its network announces.

import { guestIp6 } from '../../lab/lease-source.ts';
import type { AssertionBase } from '../../lab/model.ts';
import { defineCheck, ref } from '../define.ts';
import { guestLease, guestOf } from '../facts.ts';
import { nodeExec } from '../session.ts';
import { ev } from './observe.ts';
import { FAMILY_SCHEMA, type Family } from './ping.ts';

export interface GuestIpAssertion extends AssertionBase {
  kind: 'guest-ip';
  guest: string;
  nic: string;
  family: Family;
}

interface Raw {
  guest: string;
  nic?: string;
  family?: Family;
}

export const guestIp = defineCheck<GuestIpAssertion, Raw>({
  kind: 'guest-ip',
  summary: 'the address the guest itself has (read over its serial console) equals its DHCP lease',
  schema: {
    description: 'The address the guest itself has (read over its serial console) equals its DHCP lease.',
    required: ['guest'],
    properties: {
      guest: ref('objName'),
      nic: ref('nicName', "The guest's interface (default eth0)."),
      family: FAMILY_SCHEMA,
    },
  },
  resolve: (raw, ctx, at, base) =>
    ctx.checkGuest([...at, 'guest'], raw.guest)
      ? { ...base, kind: 'guest-ip', guest: raw.guest, nic: raw.nic ?? 'eth0', family: raw.family ?? 4 }
      : undefined,
  title: (a) =>
    a.family === 6
      ? `${a.guest}'s own ${a.nic} IPv6 address is its SLAAC address`
      : `${a.guest}'s own ${a.nic} address equals its lease`,
  nodes: (a) => [a.guest],
  async check(a, s) {
    const g = guestOf(s.lab, a.guest);
    if (a.family === 6) {
      const want = guestIp6(s.lab, g);
      if (!want.ip) return { ok: false, seen: want.why!, evidence: [], inconclusive: true };
      const argv = ['ip', '-6', '-o', 'addr', 'show', 'dev', a.nic, 'scope', 'global'];
      const r = await nodeExec(s, a.guest).run(argv, { check: false });
      const have = [...r.stdout.matchAll(/inet6 ([0-9a-f:]+)\/\d+/g)].map((m) => m[1]!);
      const tentative = /tentative/.test(r.stdout) ? ' (tentative: duplicate detection not over)' : '';
      return {
        ok: have.includes(want.ip) && !tentative,
        seen: `${a.nic} of ${g.name} has ${have.join(', ') || 'no global IPv6 address'}${tentative}; SLAAC address ${want.ip}`,
        evidence: [ev(r)],
      };
    }
    const { lease, evidence } = await guestLease(s, g);
    const r = await nodeExec(s, a.guest).run(['ip', '-4', '-o', 'addr', 'show', 'dev', a.nic], { check: false });
    const have = [...r.stdout.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\/\d+/g)].map((m) => m[1]!);
    const addrs = have.join(', ') || 'no IPv4 address';
    if (!lease)
      return {
        ok: false,
        seen: `no lease for ${g.mac}; the guest has ${have.join(', ') || 'no address'} on ${a.nic}`,
        evidence: [evidence, ev(r)],
      };
    return {
      ok: have.includes(lease.ip),
      seen: `${a.nic} of ${g.name} has ${addrs}; lease ${lease.ip}`,
      evidence: [evidence, ev(r)],
    };
  },
});
