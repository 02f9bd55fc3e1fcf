import type { Assertion } from '../lab/model.ts';
import { exec } from '../runner/session.ts';
import { ev, type Check } from './check.ts';
import { guestLease, guestOf, machineIp } from './facts.ts';

/** Resolves an endpoint to an address: guests by their lease, machines by their first static NIC address. */
export async function endpointIp(a: Extract<Assertion, { kind: 'ping' }>['to'], s: Parameters<Check>[1]): Promise<{ ip?: string; why?: string }> {
  if (a.type === 'ip') return { ip: a.ip };
  if (a.type === 'machine') {
    const ip = machineIp(s.lab, a.name);
    return ip ? { ip } : { why: `${a.name} has no static address` };
  }
  const { lease } = await guestLease(s, guestOf(s.lab, a.name));
  return lease ? { ip: lease.ip } : { why: `guest ${a.name} holds no lease, so it has no address to ping` };
}

export const ping: Check<Extract<Assertion, { kind: 'ping' }>> = async (a, s) => {
  const target = await endpointIp(a.to, s);
  if (!target.ip) return { ok: false, seen: target.why!, evidence: [], inconclusive: true };
  const r = await exec(s, a.from).run(['ping', '-n', '-c', String(a.count), '-W', '1', target.ip], { check: false, timeoutMs: 5000 + a.count * 2000 });
  const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  const seen = m ? `${m[2]}/${m[1]} replies from ${target.ip}` : `ping ${target.ip} exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`;
  return { ok: r.exitCode === 0, seen, evidence: [ev(r)] };
};
