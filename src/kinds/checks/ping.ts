// ping: a machine or a guest (over its console) pings a machine, a guest or an address.
import { scaled, TIMEOUTS } from '../../host/config.ts';
import { parseIpAddrJson } from '../../hypervisor/parse/virsh.ts';
import { guestIp6 } from '../../lab/lease-source.ts';
import { type AssertionBase, type Endpoint, endpointName, endpointNode, type Path } from '../../lab/model.ts';
import type { ResolveContext } from '../../lab/resolving.ts';
import { defineCheck, type Observation, ref } from '../define.ts';
import { guestLease, guestOf, machineIp, machineIp6 } from '../facts.ts';
import { exec, inVm, nodeExec, type Session } from '../session.ts';
import { ev } from './observe.ts';
import {
  brokenBounds,
  parseBound,
  parseRtts,
  RTT_BOUND_PATTERN,
  RTT_STATS,
  type RttBound,
  type RttStat,
  rttFigures,
  rttSummary,
} from './rtt.ts';

export interface PingAssertion extends AssertionBase {
  kind: 'ping';
  from: string;
  /** the NIC or device of the machine the pings leave by (from: machine:device) */
  fromDev?: string;
  to: Endpoint;
  count: number;
  /** 6: over IPv6 (the target's IPv6 address; an IPv6 literal implies it) */
  family: Family;
  /** bounds on the round-trip times' percentiles: the check measures them (echoes 0.2 s apart) */
  rtt?: RttBound[];
}

export type Family = 4 | 6;

interface Raw {
  from: string;
  to: string;
  count?: number;
  family?: Family;
  rtt?: Partial<Record<RttStat, string>>;
}

/** Echoes a ping sends to measure round-trip times when the lab gives no count. */
const RTT_COUNT = 10;

/** The family of an address the lab wrote (an IPv6 literal has colons), undefined for a machine or guest. */
export function literalFamily(e: Endpoint | undefined): Family | undefined {
  return e?.type === 'ip' ? (e.ip.includes(':') ? 6 : 4) : undefined;
}

/** The address family a check uses: an IPv6 literal target implies 6, else what the lab says (default 4). */
export function familyOf(raw: { family?: Family }, to: Endpoint | undefined): Family {
  return literalFamily(to) === 6 ? 6 : (raw.family ?? 4);
}

export const FAMILY_SCHEMA = {
  enum: [4, 6],
  description: 'The address family: 6 for IPv6 (the target on a dual-stack network), default 4.',
};

/**
 * Resolves an endpoint to an address: guests by their lease (IPv6: the SLAAC address their MAC forms), machines
 * by their first static NIC address, a device by the address it has now.
 */
export async function endpointIp(e: Endpoint, s: Session, family: Family = 4): Promise<{ ip?: string; why?: string }> {
  if (e.type === 'ip') return { ip: e.ip };
  if (e.type === 'interface') {
    // the address the device has now (a bridge that took its port's address, a VLAN the lab addressed)
    const argv = ['ip', '-j', `-${family}`, 'addr', 'show', 'dev', e.dev, 'scope', 'global'];
    const r = await exec(s, e.name).run(argv, { check: false });
    const addrs = r.exitCode === 0 ? parseIpAddrJson(r.stdout)[0] : undefined;
    const ip = (family === 6 ? addrs?.ipv6 : addrs?.ipv4)?.[0]?.split('/')[0];
    return ip ? { ip } : { why: `${e.name} has no IPv${family} address on ${e.dev}` };
  }
  if (e.type === 'machine') {
    const ip = family === 6 ? machineIp6(s.lab, e.name) : machineIp(s.lab, e.name);
    return ip ? { ip } : { why: `${e.name} has no static IPv${family} address` };
  }
  if (family === 6) return guestIp6(s.lab, guestOf(s.lab, e.name));
  const { lease } = await guestLease(s, guestOf(s.lab, e.name));
  return lease ? { ip: lease.ip } : { why: `guest ${e.name} holds no lease, so it has no address to ping` };
}

/** A `from` field: a machine or a guest, or `machine:device` (the packets leave by that NIC or device). */
export function resolveFrom(
  raw: string,
  ctx: ResolveContext,
  at: Path,
): { from: string; fromDev?: string } | undefined {
  const [from = '', fromDev] = raw.split(':');
  if (fromDev !== undefined) {
    if (!ctx.checkMachine(at, from) || !ctx.checkInterface(at, from, fromDev)) return undefined;
    return { from, fromDev };
  }
  return ctx.checkNode(at, from) ? { from } : undefined;
}

/** iputils: "1 packets transmitted, 1 received"; busybox (guests): "1 packets transmitted, 1 packets received". */
export function parsePing(out: string): { sent: number; received: number } | undefined {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(out);
  return m ? { sent: Number(m[1]), received: Number(m[2]) } : undefined;
}

export interface PingOptions {
  /** echo requests (default 1) */
  count?: number;
  /** the NIC or device the pings leave by */
  fromDev?: string;
  family?: Family;
  /** bounds on the round-trip times (echoes 0.2 s apart) */
  rtt?: RttBound[];
  /**
   * Expected to pass: a machine keeps sending, one echo a second, until `count` replies or a deadline
   * (`ping -w`), so a first echo held back while the path resolves its neighbours on a loaded host is not a
   * failure; it costs nothing when the reply comes at once. An expected failure still waits for one reply only.
   */
  patient?: boolean;
}

/** Seconds a patient ping may go on beyond its reply wait (`ping -w`: wait × count + this). */
const PATIENCE_S = 2;

/** One ping from a node to an endpoint; shared with reachability grids. */
export async function pingOnce(s: Session, from: string, to: Endpoint, o: PingOptions = {}): Promise<Observation> {
  const { count = 1, fromDev, family = 4, rtt, patient = false } = o;
  const target = await endpointIp(to, s, family);
  if (!target.ip) return { ok: false, seen: target.why!, evidence: [], inconclusive: true };
  // a reply through an emulated machine (a VM, or a guest inside one) may take longer
  const vm = inVm(s, from) || endpointNode(to).some((n) => inVm(s, n));
  const wait = scaled(TIMEOUTS.pingReplyS, vm);
  // guests ping with busybox, whose -w does not send again: patience is for machines (iputils)
  const deadline = patient && !rtt && s.machines.has(from) ? wait * count + PATIENCE_S : 0;
  const timeoutMs = scaled(TIMEOUTS.pingBaseMs + count * TIMEOUTS.pingPerEchoMs, vm) + deadline * 1000;
  const via = fromDev ? ['-I', fromDev] : [];
  const often = rtt && count > 1 ? ['-i', '0.2'] : [];
  const until = deadline ? ['-w', String(deadline)] : [];
  const argv = ['ping', ...via, ...often, '-c', String(count), '-W', String(wait), ...until, target.ip];
  const r = await nodeExec(s, from).run(argv, { check: false, timeoutMs });
  const p = parsePing(r.stdout);
  const seen = p
    ? `${p.received}/${p.sent} replies from ${target.ip}`
    : `ping ${target.ip} exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`;
  const ok = r.exitCode === 0 && (p?.received ?? 0) > 0;
  const rtts = parseRtts(r.stdout);
  if (!rtt || !ok || !rtts.length) return { ok, seen, evidence: [ev(r)] };
  const broken = brokenBounds(rtts, rtt);
  return {
    ok: broken.length === 0,
    seen: `${seen}; ${broken.length ? broken.join(', ') : rttSummary(rtts, rtt)}`,
    evidence: [ev(r)],
    figures: rttFigures(rtts, rtt),
  };
}

export const ping = defineCheck<PingAssertion, Raw>({
  kind: 'ping',
  summary: 'a machine or a guest (over its serial console) pings a machine, a guest or an address',
  schema: {
    required: ['from', 'to'],
    properties: {
      from: ref('source'),
      to: ref('endpoint'),
      count: { type: 'integer', minimum: 1, maximum: 100 },
      family: FAMILY_SCHEMA,
      rtt: {
        type: 'object',
        description:
          'Bounds on the round-trip times, e.g. { p50: ">= 90 ms", max: "< 400 ms" } (min, p50, p90, p95, p99, max); ' +
          `the ping then sends ${RTT_COUNT} echoes (or count) 0.2 s apart and reports the percentiles as figures.`,
        minProperties: 1,
        additionalProperties: false,
        properties: Object.fromEntries(
          RTT_STATS.map((k) => [k, { type: 'string', pattern: RTT_BOUND_PATTERN, description: 'e.g. ">= 90 ms"' }]),
        ),
      },
    },
  },
  resolve(raw, ctx, at, base) {
    const src = resolveFrom(raw.from, ctx, [...at, 'from']);
    if (!src) return undefined;
    const { from, fromDev } = src;
    const to = ctx.endpoint([...at, 'to'], raw.to);
    const family = familyOf(raw, to);
    const literal = literalFamily(to);
    if (literal !== undefined && raw.family !== undefined && raw.family !== literal) {
      ctx.err([...at, 'family'], `family ${raw.family} does not match the address ${endpointName(to!)}`);
      return undefined;
    }
    const rtt = raw.rtt ? Object.entries(raw.rtt).map(([k, v]) => parseBound(k as RttStat, v!)!) : undefined;
    const count = raw.count ?? (rtt ? RTT_COUNT : 1);
    return (
      to && { ...base, kind: 'ping', from, ...(fromDev ? { fromDev } : {}), to, count, family, ...(rtt ? { rtt } : {}) }
    );
  },
  title: (a) =>
    `${a.from}${a.fromDev ? `:${a.fromDev}` : ''} can ping ${endpointName(a.to)}${a.family === 6 ? ' over IPv6' : ''}` +
    (a.rtt ? `, round trips ${a.rtt.map((b) => `${b.stat} ${b.op} ${b.ms} ms`).join(', ')}` : ''),
  nodes: (a) => [a.from, ...endpointNode(a.to)],
  edge: (a) => ({ from: a.fromDev ? `${a.from}:${a.fromDev}` : a.from, to: endpointName(a.to) }),
  check: (a, s) =>
    pingOnce(s, a.from, a.to, {
      count: a.count,
      fromDev: a.fromDev,
      family: a.family,
      rtt: a.rtt,
      patient: a.expect === 'pass',
    }),
});
