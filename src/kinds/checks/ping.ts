// ping: a machine or a guest (over its console) pings a machine, a guest or an address.
import { scaled, TIMEOUTS } from '../../host/config.ts';
import { parseIpAddrJson } from '../../hypervisor/parse/virsh.ts';
import { type AssertionBase, type Endpoint, endpointName, endpointNode } from '../../lab/model.ts';
import { defineCheck, ref } from '../define.ts';
import { guestLease, guestOf, machineIp } from '../facts.ts';
import { exec, inVm, nodeExec, type Session } from '../session.ts';
import { ev } from './observe.ts';

export interface PingAssertion extends AssertionBase {
  kind: 'ping';
  from: string;
  /** the NIC or device of the machine the pings leave by (from: machine:device) */
  fromDev?: string;
  to: Endpoint;
  count: number;
}

interface Raw {
  from: string;
  to: string;
  count?: number;
}

/** Resolves an endpoint to an address: guests by their lease, machines by their first static NIC address. */
export async function endpointIp(e: Endpoint, s: Session): Promise<{ ip?: string; why?: string }> {
  if (e.type === 'ip') return { ip: e.ip };
  if (e.type === 'interface') {
    // the address the device has now (a bridge that took its port's address, a VLAN the lab addressed)
    const r = await exec(s, e.name).run(['ip', '-j', '-4', 'addr', 'show', 'dev', e.dev], { check: false });
    const ip = r.exitCode === 0 ? parseIpAddrJson(r.stdout)[0]?.ipv4[0]?.split('/')[0] : undefined;
    return ip ? { ip } : { why: `${e.name} has no IPv4 address on ${e.dev}` };
  }
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

/** One ping from a node to an endpoint; shared with reachability grids. */
export async function pingOnce(s: Session, from: string, to: Endpoint, count: number, fromDev?: string) {
  const target = await endpointIp(to, s);
  if (!target.ip) return { ok: false, seen: target.why!, evidence: [], inconclusive: true };
  // a reply through an emulated machine (a VM, or a guest inside one) may take longer
  const vm = inVm(s, from) || endpointNode(to).some((n) => inVm(s, n));
  const wait = String(scaled(TIMEOUTS.pingReplyS, vm));
  const timeoutMs = scaled(TIMEOUTS.pingBaseMs + count * TIMEOUTS.pingPerEchoMs, vm);
  const via = fromDev ? ['-I', fromDev] : [];
  const r = await nodeExec(s, from).run(['ping', ...via, '-c', String(count), '-W', wait, target.ip], {
    check: false,
    timeoutMs,
  });
  const p = parsePing(r.stdout);
  const seen = p
    ? `${p.received}/${p.sent} replies from ${target.ip}`
    : `ping ${target.ip} exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`;
  return { ok: r.exitCode === 0 && (p?.received ?? 0) > 0, seen, evidence: [ev(r)] };
}

export const ping = defineCheck<PingAssertion, Raw>({
  kind: 'ping',
  summary: 'a machine or a guest (over its serial console) pings a machine, a guest or an address',
  schema: {
    required: ['from', 'to'],
    properties: {
      from: ref('source'),
      to: ref('endpoint'),
      count: { type: 'integer', minimum: 1, maximum: 20 },
    },
  },
  resolve(raw, ctx, at, base) {
    const [from = '', fromDev] = raw.from.split(':');
    if (fromDev !== undefined) {
      if (!ctx.checkMachine([...at, 'from'], from) || !ctx.checkInterface([...at, 'from'], from, fromDev)) return;
    } else if (!ctx.checkNode([...at, 'from'], from)) return undefined;
    const to = ctx.endpoint([...at, 'to'], raw.to);
    return to && { ...base, kind: 'ping', from, ...(fromDev ? { fromDev } : {}), to, count: raw.count ?? 1 };
  },
  title: (a) => `${a.from}${a.fromDev ? `:${a.fromDev}` : ''} can ping ${endpointName(a.to)}`,
  nodes: (a) => [a.from, ...endpointNode(a.to)],
  edge: (a) => ({ from: a.fromDev ? `${a.from}:${a.fromDev}` : a.from, to: endpointName(a.to) }),
  check: (a, s) => pingOnce(s, a.from, a.to, a.count, a.fromDev),
});
