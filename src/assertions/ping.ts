import type { Assertion, Endpoint } from '../lab/model.ts';
import { nodeExec, slowFactor, type Session } from '../runner/session.ts';
import { ev, type Check } from './check.ts';
import { guestLease, guestOf, machineIp } from './facts.ts';

/** Resolves an endpoint to an address: guests by their lease, machines by their first static NIC address. */
export async function endpointIp(e: Endpoint, s: Session): Promise<{ ip?: string; why?: string }> {
  if (e.type === 'ip') return { ip: e.ip };
  if (e.type === 'machine') {
    const ip = machineIp(s.lab, e.name);
    return ip ? { ip } : { why: `${e.name} has no static address` };
  }
  const { lease } = await guestLease(s, guestOf(s.lab, e.name));
  return lease ? { ip: lease.ip } : { why: `guest ${e.name} holds no lease, so it has no address to ping` };
}

/** iputils: "1 packets transmitted, 1 received"; busybox (guests): "1 packets transmitted, 1 packets received". */
export function parsePing(out: string): { sent: number; received: number } | undefined {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(out);
  return m ? { sent: Number(m[1]), received: Number(m[2]) } : undefined;
}

export const ping: Check<Extract<Assertion, { kind: 'ping' }>> = async (a, s) => {
  const target = await endpointIp(a.to, s);
  if (!target.ip) return { ok: false, seen: target.why!, evidence: [], inconclusive: true };
  // a reply through an emulated machine (a VM, or a guest inside one) may take longer than a second
  const f = Math.max(slowFactor(s, a.from), a.to.type === 'ip' ? 1 : slowFactor(s, a.to.name));
  const r = await nodeExec(s, a.from).run(['ping', '-c', String(a.count), '-W', String(f), target.ip], {
    check: false,
    timeoutMs: (8000 + a.count * 2000) * f,
  });
  const p = parsePing(r.stdout);
  const seen = p
    ? `${p.received}/${p.sent} replies from ${target.ip}`
    : `ping ${target.ip} exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`;
  return { ok: r.exitCode === 0 && (p?.received ?? 0) > 0, seen, evidence: [ev(r)] };
};
