// lease: a guest's NIC holds a DHCP lease from the server that serves it (the LAN's, libvirt's, or the lab's own);
// over IPv6, the SLAAC address its MAC forms on the announced prefix, as the guest itself reports it.

import { consoleLogPath } from '../../hypervisor/commands.ts';
import { consoleText } from '../../hypervisor/ops.ts';
import { parseIpv6Lines, VIRTLAB_GUEST_BOOTED } from '../../hypervisor/parse/virsh.ts';
import { guestIp6, leaseSource } from '../../lab/lease-source.ts';
import type { AssertionBase, Guest } from '../../lab/model.ts';
import { defineCheck, type Observation, ref } from '../define.ts';
import { guestLease, guestOf } from '../facts.ts';
import { exec, type Session } from '../session.ts';
import { FAMILY_SCHEMA, type Family } from './ping.ts';

/**
 * Over IPv6 nothing keeps a lease for SLAAC: the address is the one the guest's MAC forms on the prefix its network
 * announces, and the virtlab guest reports it on its console once duplicate detection passed.
 */
async function slaacLease(s: Session, g: Guest): Promise<Observation> {
  const want = guestIp6(s.lab, g);
  if (!want.ip) return { ok: false, seen: want.why!, evidence: [], inconclusive: true };
  const text = await consoleText(exec(s, g.on), g.name);
  const lines = text.split('\n').filter((l) => l.includes('virtlab-guest ipv6'));
  const evidence = { machine: g.on, argv: ['cat', consoleLogPath(g.name)], exitCode: 0, stdout: lines.join('\n') };
  if (!text.includes(VIRTLAB_GUEST_BOOTED))
    return {
      ok: false,
      seen: `${g.name}'s image does not report its IPv6 address; ping ${want.ip} (ping with family: 6) instead`,
      evidence: [evidence],
      inconclusive: true,
    };
  const have = parseIpv6Lines(text);
  return have.includes(want.ip)
    ? { ok: true, seen: `${g.mac} holds ${want.ip} (SLAAC, the guest reports it)`, evidence: [evidence] }
    : {
        ok: false,
        seen: `${g.name} reports no IPv6 address ${want.ip}${have.length ? ` (it has ${have.join(', ')})` : ''}: no router advertisement reached it?`,
        evidence: [evidence],
      };
}

export interface LeaseAssertion extends AssertionBase {
  kind: 'lease';
  guest: string;
  network?: string;
  family: Family;
}

interface Raw {
  guest: string;
  network?: string;
  family?: Family;
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
      family: FAMILY_SCHEMA,
    },
  },
  resolve(raw, ctx, at, base) {
    if (!ctx.checkGuest([...at, 'guest'], raw.guest)) return undefined;
    const g = ctx.guests.find((x) => x.name === raw.guest)!;
    if (raw.network !== undefined && !g.nics.some((n) => n.network === raw.network)) {
      ctx.err([...at, 'network'], `guest "${raw.guest}" has no NIC on network "${raw.network}"`);
      return undefined;
    }
    if (raw.family === 6 && raw.network !== undefined && raw.network !== g.network) {
      ctx.err([...at, 'family'], "an IPv6 lease (SLAAC) is checked on the guest's first NIC only");
      return undefined;
    }
    return { ...base, kind: 'lease', guest: raw.guest, network: raw.network, family: raw.family ?? 4 };
  },
  title: (a) =>
    a.family === 6
      ? `guest ${a.guest} holds its IPv6 address (SLAAC)`
      : `guest ${a.guest} holds a DHCP lease${a.network ? ` on ${a.network}` : ''}`,
  nodes: (a) => [a.guest],
  async check(a, s) {
    const g = guestOf(s.lab, a.guest);
    if (a.family === 6) return slaacLease(s, g);
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
