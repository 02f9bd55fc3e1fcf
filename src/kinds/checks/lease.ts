// lease: a guest's NIC holds a DHCP lease from the server that serves it (the LAN's, libvirt's, or the lab's own).

import { leaseSource } from '../../lab/lease-source.ts';
import type { AssertionBase } from '../../lab/model.ts';
import { defineCheck, ref } from '../define.ts';
import { guestLease, guestOf } from '../facts.ts';

export interface LeaseAssertion extends AssertionBase {
  kind: 'lease';
  guest: string;
  network?: string;
}

interface Raw {
  guest: string;
  network?: string;
}

export const lease = defineCheck<LeaseAssertion, Raw>({
  kind: 'lease',
  summary: "a guest's NIC holds a DHCP lease from the server that serves its network",
  schema: {
    required: ['guest'],
    properties: {
      guest: ref('objName'),
      network: ref(
        'objName',
        'For a guest with several NICs: the NIC on this libvirt network (default: its first NIC).',
      ),
    },
  },
  resolve(raw, ctx, at, base) {
    if (!ctx.checkGuest([...at, 'guest'], raw.guest)) return undefined;
    const g = ctx.guests.find((x) => x.name === raw.guest)!;
    if (raw.network !== undefined && !g.nics.some((n) => n.network === raw.network)) {
      ctx.err([...at, 'network'], `guest "${raw.guest}" has no NIC on network "${raw.network}"`);
      return undefined;
    }
    return { ...base, kind: 'lease', guest: raw.guest, network: raw.network };
  },
  title: (a) => `guest ${a.guest} holds a DHCP lease${a.network ? ` on ${a.network}` : ''}`,
  nodes: (a) => [a.guest],
  async check(a, s) {
    const g = guestOf(s.lab, a.guest);
    const network = a.network ?? g.network;
    const mac = g.nics.find((n) => n.network === network)?.mac ?? g.mac;
    const { lease: l, evidence, via } = await guestLease(s, g, network);
    const src = leaseSource(s.lab, g, network);
    if (src.type === 'none')
      return { ok: false, seen: `no DHCP server serves it: ${src.why}`, evidence: [evidence], inconclusive: true };
    const where = via
      ? via
      : src.type === 'underlay'
        ? `the DHCP server of ${src.network}`
        : src.type === 'ports'
          ? `the DHCP server of the network behind ${src.dev} on ${src.machine}`
          : src.type === 'file'
            ? `${src.path} on ${src.machine}`
            : `libvirt network ${src.network} on ${src.machine}`;
    if (l) return { ok: true, seen: `${mac} holds ${l.ip} from ${where}`, evidence: [evidence] };
    const dead = src.type === 'underlay' && !s.underlays.get(src.network)!.dhcpAlive();
    const why = dead ? ` (the DHCP server of ${src.network} is not running)` : '';
    return { ok: false, seen: `no lease for ${mac} on ${where}${why}`, evidence: [evidence] };
  },
});
