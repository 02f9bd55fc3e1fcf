import type { Assertion } from '../lab/model.ts';
import { nodeExec } from '../runner/session.ts';
import { ev, type Check } from './check.ts';
import { guestLease, guestOf } from './facts.ts';

/** The address the guest itself has (read over its console) equals its DHCP lease. */
export const guestIp: Check<Extract<Assertion, { kind: 'guest-ip' }>> = async (a, s) => {
  const g = guestOf(s.lab, a.guest);
  const { lease, evidence } = await guestLease(s, g);
  const r = await nodeExec(s, a.guest).run(['ip', '-4', '-o', 'addr', 'show', 'dev', a.nic], { check: false });
  const have = [...r.stdout.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\/\d+/g)].map((m) => m[1]!);
  if (!lease)
    return {
      ok: false,
      seen: `no lease for ${g.mac}; the guest has ${have.join(', ') || 'no address'} on ${a.nic}`,
      evidence: [evidence, ev(r)],
    };
  return {
    ok: have.includes(lease.ip),
    seen: `${a.nic} of ${g.name} has ${have.join(', ') || 'no IPv4 address'}; lease ${lease.ip}`,
    evidence: [evidence, ev(r)],
  };
};
