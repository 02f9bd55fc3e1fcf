import type { Assertion } from '../lab/model.ts';
import { exec } from '../runner/session.ts';
import { ev, type Check } from './check.ts';
import { guestLease, guestOf } from './facts.ts';
import { parseNeighJson } from './parse/virsh.ts';

/** The machine's neighbour entry for the guest's address carries the guest's MAC (a ping first fills the table). */
export const arp: Check<Extract<Assertion, { kind: 'arp' }>> = async (a, s) => {
  const g = guestOf(s.lab, a.guest);
  const { lease } = await guestLease(s, g);
  if (!lease) return { ok: false, seen: `guest ${g.name} holds no lease, so it has no address to resolve`, evidence: [], inconclusive: true };
  const x = exec(s, a.on);
  const p = await x.run(['ping', '-n', '-c', '1', '-W', '1', lease.ip], { check: false, timeoutMs: 5000 });
  const r = await x.run(['ip', '-j', 'neigh', 'show', 'to', lease.ip], { check: false });
  const n = r.exitCode === 0 ? parseNeighJson(r.stdout).find((e) => e.dst === lease.ip && e.lladdr) : undefined;
  if (!n) return { ok: false, seen: `${a.on} has no neighbour entry with a MAC for ${lease.ip}`, evidence: [ev(p), ev(r)] };
  return n.lladdr === g.mac
    ? { ok: true, seen: `${lease.ip} is at ${n.lladdr} (${n.state.join(',')}) on ${n.dev}`, evidence: [ev(p), ev(r)] }
    : { ok: false, seen: `${lease.ip} is at ${n.lladdr}, expected ${g.mac}`, evidence: [ev(p), ev(r)] };
};
