import type { Assertion } from '../lab/model.ts';
import type { Check } from './check.ts';
import { guestLease, guestOf, leaseSource } from './facts.ts';

export const lease: Check<Extract<Assertion, { kind: 'lease' }>> = async (a, s) => {
  const g = guestOf(s.lab, a.guest);
  const { lease: l, evidence } = await guestLease(s, g);
  const src = leaseSource(s.lab, g);
  const where = src.type === 'underlay' ? `the DHCP server of ${src.network}` : `libvirt network ${src.network} on ${src.machine}`;
  return l
    ? { ok: true, seen: `${g.mac} holds ${l.ip} from ${where}`, evidence: [evidence] }
    : { ok: false, seen: `no lease for ${g.mac} on ${where}`, evidence: [evidence] };
};
