import type { Assertion } from '../lab/model.ts';
import type { Check } from './check.ts';
import { guestLease, guestOf, leaseSource } from './facts.ts';

export const lease: Check<Extract<Assertion, { kind: 'lease' }>> = async (a, s) => {
  const g = guestOf(s.lab, a.guest);
  const network = a.network ?? g.network;
  const mac = g.nics.find((n) => n.network === network)?.mac ?? g.mac;
  const { lease: l, evidence } = await guestLease(s, g, network);
  const src = leaseSource(s.lab, g, network);
  const where =
    src.type === 'underlay'
      ? `the DHCP server of ${src.network}`
      : src.type === 'file'
        ? `${src.path} on ${src.machine}`
        : `libvirt network ${src.network} on ${src.machine}`;
  if (l) return { ok: true, seen: `${mac} holds ${l.ip} from ${where}`, evidence: [evidence] };
  const dead = src.type === 'underlay' && !s.underlays.get(src.network)!.dhcpAlive();
  return {
    ok: false,
    seen: `no lease for ${mac} on ${where}${dead ? ` (the DHCP server of ${src.network} is not running)` : ''}`,
    evidence: [evidence],
  };
};
