// seen-source: a machine captures (tcpdump) the echo requests a node sends it and reports their source address.
import { TIMEOUTS } from '../../host/config.ts';
import { type AssertionBase, type Endpoint, endpointName, endpointNode } from '../../lab/model.ts';
import { defineCheck, ref } from '../define.ts';
import { machineIp, machineIp6 } from '../facts.ts';
import { exec, nodeExec } from '../session.ts';
import { ev } from './observe.ts';
import { endpointIp, FAMILY_SCHEMA, type Family, familyOf } from './ping.ts';

export interface SeenSourceAssertion extends AssertionBase {
  kind: 'seen-source';
  from: string;
  to: string;
  source: Endpoint;
  /** 6: pings over IPv6, the source as an IPv6 address */
  family: Family;
}

interface Raw {
  from: string;
  to: string;
  source: string;
  family?: Family;
}

export const seenSource = defineCheck<SeenSourceAssertion, Raw>({
  kind: 'seen-source',
  summary: 'the source address a machine sees on pings from a node (a NAT guest appears as its hypervisor)',
  schema: {
    description:
      'What source address a machine sees on packets from a node (e.g. a NAT guest appears as its hypervisor).',
    required: ['from', 'to', 'source'],
    properties: {
      from: ref('node', 'Sends pings (a machine, or a guest over its console).'),
      to: ref('machineName', 'Captures them (tcpdump).'),
      source: ref(
        'endpoint',
        'The source address `to` must see: a machine (its address on the capturing LAN), a guest, or an IPv4 or IPv6 address.',
      ),
      family: FAMILY_SCHEMA,
    },
  },
  resolve(raw, ctx, at, base) {
    if (!ctx.checkNode([...at, 'from'], raw.from) || !ctx.checkMachine([...at, 'to'], raw.to)) return undefined;
    const source = ctx.endpoint([...at, 'source'], raw.source);
    return (
      source && { ...base, kind: 'seen-source', from: raw.from, to: raw.to, source, family: familyOf(raw, source) }
    );
  },
  title: (a) =>
    `${a.to} sees ${a.from}'s packets coming from ${endpointName(a.source)}${a.family === 6 ? ' over IPv6' : ''}`,
  nodes: (a) => [a.from, a.to, ...endpointNode(a.source)],
  async check(a, s) {
    const v6 = a.family === 6;
    const dst = v6 ? machineIp6(s.lab, a.to) : machineIp(s.lab, a.to);
    const want = await endpointIp(a.source, s, a.family ?? 4);
    if (!dst || !want.ip) {
      const why = !dst ? `${a.to} has no static IPv${a.family ?? 4} address` : want.why!;
      return { ok: false, seen: why, evidence: [], inconclusive: true };
    }
    const wait = String(TIMEOUTS.captureS);
    // an echo request: ICMPv6 type 128 right after the fixed IPv6 header (no extension headers on a ping)
    const echo = v6 ? ['icmp6', 'and', 'ip6[40] == 128'] : ['icmp[icmptype] == icmp-echo'];
    const filter = [...echo, 'and', 'dst', 'host', dst];
    const tcpdump = ['timeout', wait, 'tcpdump', '-n', '-l', '-p', '-c', '1', '-i', 'any', ...filter];
    const capture = exec(s, a.to).run(tcpdump, { check: false, timeoutMs: TIMEOUTS.captureS * 1000 + 5000 });
    await new Promise((r) => setTimeout(r, 700)); // let tcpdump open its socket
    const p = await nodeExec(s, a.from).run(['ping', '-c', '3', '-W', '1', dst], { check: false, timeoutMs: 15000 });
    const c = await capture;
    const m = v6
      ? /IP6 ([0-9a-f:]+) > [0-9a-f:]+: ICMP6, echo request/.exec(c.stdout)
      : /IP (\d+\.\d+\.\d+\.\d+) > \d+\.\d+\.\d+\.\d+: ICMP echo request/.exec(c.stdout);
    if (!m) return { ok: false, seen: `${a.to} captured no echo request from ${a.from}`, evidence: [ev(p), ev(c)] };
    const seen = `${a.to} sees ${a.from}'s pings coming from ${m[1]} (expected ${want.ip})`;
    return { ok: m[1] === want.ip, seen, evidence: [ev(p), ev(c)] };
  },
});
