// seen-source: a machine captures (tcpdump) the echo requests a node sends it and reports their source address.
import { TIMEOUTS } from '../../host/config.ts';
import { type AssertionBase, type Endpoint, endpointName, endpointNode } from '../../lab/model.ts';
import { defineCheck, ref } from '../define.ts';
import { machineIp } from '../facts.ts';
import { exec, nodeExec } from '../session.ts';
import { ev } from './observe.ts';
import { endpointIp } from './ping.ts';

export interface SeenSourceAssertion extends AssertionBase {
  kind: 'seen-source';
  from: string;
  to: string;
  source: Endpoint;
}

interface Raw {
  from: string;
  to: string;
  source: string;
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
        'The source address `to` must see: a machine (its address on the capturing LAN), a guest, or an IPv4 address.',
      ),
    },
  },
  resolve(raw, ctx, at, base) {
    if (!ctx.checkNode([...at, 'from'], raw.from) || !ctx.checkMachine([...at, 'to'], raw.to)) return undefined;
    const source = ctx.endpoint([...at, 'source'], raw.source);
    return source && { ...base, kind: 'seen-source', from: raw.from, to: raw.to, source };
  },
  title: (a) => `${a.to} sees ${a.from}'s packets coming from ${endpointName(a.source)}`,
  nodes: (a) => [a.from, a.to, ...endpointNode(a.source)],
  async check(a, s) {
    const dst = machineIp(s.lab, a.to);
    const want = await endpointIp(a.source, s);
    if (!dst || !want.ip) {
      return { ok: false, seen: !dst ? `${a.to} has no static address` : want.why!, evidence: [], inconclusive: true };
    }
    const wait = String(TIMEOUTS.captureS);
    const filter = ['icmp[icmptype] == icmp-echo', 'and', 'dst', 'host', dst];
    const tcpdump = ['timeout', wait, 'tcpdump', '-n', '-l', '-p', '-c', '1', '-i', 'any', ...filter];
    const capture = exec(s, a.to).run(tcpdump, { check: false, timeoutMs: TIMEOUTS.captureS * 1000 + 5000 });
    await new Promise((r) => setTimeout(r, 700)); // let tcpdump open its socket
    const p = await nodeExec(s, a.from).run(['ping', '-c', '3', '-W', '1', dst], { check: false, timeoutMs: 15000 });
    const c = await capture;
    const m = /IP (\d+\.\d+\.\d+\.\d+) > \d+\.\d+\.\d+\.\d+: ICMP echo request/.exec(c.stdout);
    if (!m) return { ok: false, seen: `${a.to} captured no echo request from ${a.from}`, evidence: [ev(p), ev(c)] };
    const seen = `${a.to} sees ${a.from}'s pings coming from ${m[1]} (expected ${want.ip})`;
    return { ok: m[1] === want.ip, seen, evidence: [ev(p), ev(c)] };
  },
});
