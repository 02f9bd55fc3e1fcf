// guest-ip: the address the guest itself has (read over its serial console) equals its DHCP lease.
import type { AssertionBase } from '../../lab/model.ts';
import { defineCheck, ref } from '../define.ts';
import { guestLease, guestOf } from '../facts.ts';
import { nodeExec } from '../session.ts';
import { ev } from './observe.ts';

export interface GuestIpAssertion extends AssertionBase {
  kind: 'guest-ip';
  guest: string;
  nic: string;
}

interface Raw {
  guest: string;
  nic?: string;
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
    },
  },
  resolve: (raw, ctx, at, base) =>
    ctx.checkGuest([...at, 'guest'], raw.guest)
      ? { ...base, kind: 'guest-ip', guest: raw.guest, nic: raw.nic ?? 'eth0' }
      : undefined,
  title: (a) => `${a.guest}'s own ${a.nic} address equals its lease`,
  nodes: (a) => [a.guest],
  async check(a, s) {
    const g = guestOf(s.lab, a.guest);
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
