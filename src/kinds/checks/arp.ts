// arp: a node's neighbour entry for a machine or guest carries that target's MAC (or, with proxy ARP, another's).

import { parseNeighJson, parseProcArp } from '../../hypervisor/parse/virsh.ts';
import { type AssertionBase, type Endpoint, endpointName, endpointNode, type Path } from '../../lab/model.ts';
import type { ResolveContext } from '../../lab/resolving.ts';
import { defineCheck, type Observation, ref } from '../define.ts';
import { guestOf, machineNic } from '../facts.ts';
import { nodeExec, type Session } from '../session.ts';
import { ev } from './observe.ts';
import { endpointIp, type Family } from './ping.ts';

export interface ArpAssertion extends AssertionBase {
  kind: 'arp';
  on: string;
  target: Endpoint;
  answeredBy?: string;
}

interface Raw {
  on: string;
  guest?: string;
  target?: string;
  'answered-by'?: string;
}

export const arp = defineCheck<ArpAssertion, Raw>({
  kind: 'arp',
  summary: "a node's neighbour entry for a machine or guest carries its MAC (or the proxy ARP answerer's)",
  schema: {
    required: ['on'],
    properties: {
      on: ref('node'),
      guest: ref('objName', 'The guest whose address is resolved (same as target).'),
      target: ref('node', 'The machine or guest whose address is resolved.'),
      'answered-by': ref('machineName', "The entry must carry this machine's MAC instead of the target's (proxy ARP)."),
    },
  },
  resolve(raw, ctx, at, base) {
    const target = neighbourTarget(raw, ctx, at, 'an arp');
    const by = raw['answered-by'];
    if (!ctx.checkNode([...at, 'on'], raw.on) || !target) return undefined;
    if (by !== undefined && !ctx.checkMachine([...at, 'answered-by'], by)) return undefined;
    return { ...base, kind: 'arp', on: raw.on, target, ...(by ? { answeredBy: by } : {}) };
  },
  title: (a) =>
    `${a.on}'s neighbour entry for ${endpointName(a.target)} carries ${a.answeredBy ?? endpointName(a.target)}'s MAC`,
  nodes: (a) => [a.on, ...endpointNode(a.target)],
  check: (a, s) => neighbourEntry(a, s, 4),
});

/** The machine or guest an arp or neighbour check resolves: exactly one of `target` or `guest` (its MAC is known). */
export function neighbourTarget(
  raw: { guest?: string; target?: string },
  ctx: ResolveContext,
  at: Path,
  what: string,
): Endpoint | undefined {
  if ((raw.guest === undefined) === (raw.target === undefined)) {
    ctx.err(at, `${what} assertion needs exactly one of "target" or "guest"`);
    return undefined;
  }
  const target =
    raw.guest !== undefined
      ? ctx.checkGuest([...at, 'guest'], raw.guest)
        ? { type: 'guest' as const, name: raw.guest }
        : undefined
      : ctx.endpoint([...at, 'target'], raw.target!);
  if (target?.type === 'ip' || target?.type === 'interface') {
    ctx.err([...at, 'target'], `${what} target must be a machine or a guest (its MAC must be known)`);
    return undefined;
  }
  return target;
}

/**
 * The neighbour entry a node holds for a target carries the target's MAC (or the answerer's): ARP for IPv4, NDP
 * for IPv6 (the `neighbour` check). A ping first fills the table.
 */
export async function neighbourEntry(
  a: Pick<ArpAssertion, 'on' | 'target' | 'answeredBy'>,
  s: Session,
  family: Family,
): Promise<Observation> {
  const t = a.target;
  const want = a.answeredBy
    ? machineNic(s.lab, a.answeredBy)?.mac
    : t.type === 'guest'
      ? guestOf(s.lab, t.name).mac
      : t.type === 'machine'
        ? machineNic(s.lab, t.name)?.mac
        : undefined;
  const { ip, why } = await endpointIp(t, s, family);
  if (!ip) return { ok: false, seen: why!.replace('to ping', 'to resolve'), evidence: [], inconclusive: true };
  const x = nodeExec(s, a.on);
  const p = await x.run(['ping', '-c', '1', '-W', '1', ip], { check: false, timeoutMs: 8000 });
  const guestSide = !s.machines.has(a.on);
  const r = guestSide
    ? await x.run(['cat', '/proc/net/arp'], { check: false })
    : await x.run(['ip', '-j', `-${family}`, 'neigh', 'show', 'to', ip], { check: false });
  const entries = r.exitCode !== 0 ? [] : guestSide ? parseProcArp(r.stdout) : parseNeighJson(r.stdout);
  const n = entries.find((e) => e.dst === ip && e.lladdr);
  const evidence = [ev(p), ev(r)];
  if (!n) return { ok: false, seen: `${a.on} has no neighbour entry with a MAC for ${ip}`, evidence };
  const whose = a.answeredBy ? ` (${a.answeredBy}'s MAC)` : '';
  return n.lladdr === want
    ? {
        ok: true,
        seen: `${ip} is at ${n.lladdr}${whose}${n.state.length ? ` (${n.state.join(',')})` : ''} on ${n.dev}`,
        evidence,
      }
    : { ok: false, seen: `${ip} is at ${n.lladdr}, expected ${want}${whose}`, evidence };
}
