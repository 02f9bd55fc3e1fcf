import type { Assertion } from '../lab/model.ts';
import { nodeExec } from '../runner/session.ts';
import { ev, type Check } from './check.ts';
import { guestOf, machineNic } from './facts.ts';
import { endpointIp } from './ping.ts';
import { parseNeighJson, parseProcArp } from './parse/virsh.ts';

/** The node's neighbour entry for the target's address carries the target's MAC (a ping first fills the table). */
export const arp: Check<Extract<Assertion, { kind: 'arp' }>> = async (a, s) => {
  const t = a.target;
  // with proxy ARP, another machine answers for the target: the entry carries that machine's MAC
  const want = a.answeredBy
    ? machineNic(s.lab, a.answeredBy)?.mac
    : t.type === 'guest'
      ? guestOf(s.lab, t.name).mac
      : t.type === 'machine'
        ? machineNic(s.lab, t.name)?.mac
        : undefined;
  const { ip, why } = await endpointIp(t, s);
  if (!ip) return { ok: false, seen: why!.replace('to ping', 'to resolve'), evidence: [], inconclusive: true };
  const x = nodeExec(s, a.on);
  const p = await x.run(['ping', '-c', '1', '-W', '1', ip], { check: false, timeoutMs: 8000 });
  const guestSide = !s.machines.has(a.on);
  const r = guestSide
    ? await x.run(['cat', '/proc/net/arp'], { check: false })
    : await x.run(['ip', '-j', 'neigh', 'show', 'to', ip], { check: false });
  const entries = r.exitCode !== 0 ? [] : guestSide ? parseProcArp(r.stdout) : parseNeighJson(r.stdout);
  const n = entries.find((e) => e.dst === ip && e.lladdr);
  if (!n) return { ok: false, seen: `${a.on} has no neighbour entry with a MAC for ${ip}`, evidence: [ev(p), ev(r)] };
  return n.lladdr === want
    ? {
        ok: true,
        seen: `${ip} is at ${n.lladdr}${a.answeredBy ? ` (${a.answeredBy}'s MAC)` : ''}${n.state.length ? ` (${n.state.join(',')})` : ''} on ${n.dev}`,
        evidence: [ev(p), ev(r)],
      }
    : {
        ok: false,
        seen: `${ip} is at ${n.lladdr}, expected ${want}${a.answeredBy ? ` (${a.answeredBy}'s MAC)` : ''}`,
        evidence: [ev(p), ev(r)],
      };
};
