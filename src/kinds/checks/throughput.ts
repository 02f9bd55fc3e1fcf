// throughput: iperf3 from one machine or guest to another, TCP or UDP; the server is started and stopped by the
// check. Reports Mbit/s (each second's figure too), retransmits or loss and jitter, and both ends' CPU use.
import { randomBytes } from 'node:crypto';
import { type AssertionBase, type Endpoint, endpointName, endpointNode } from '../../lab/model.ts';
import type { Evidence } from '../../report/events.ts';
import { defineCheck, type Observation, ref } from '../define.ts';
import { inVm, nodeExec, type Session } from '../session.ts';
import {
  clientArgv,
  formatMbps,
  type IperfResult,
  type IperfTest,
  iperfFigures,
  parseIperf,
  parseRate,
  parseSize,
  serverArgv,
  stopServerArgv,
  withDeadline,
} from './iperf.ts';
import { ev } from './observe.ts';
import { endpointIp, FAMILY_SCHEMA, type Family, familyOf, resolveFrom } from './ping.ts';

export interface ThroughputAssertion extends AssertionBase {
  kind: 'throughput';
  /** the iperf3 client */
  from: string;
  fromDev?: string;
  /** the iperf3 server: a machine, a guest or machine:device (the server listens on that device's address) */
  to: Endpoint;
  test: IperfTest;
  /** the floor and the ceiling, in Mbit/s */
  atLeast?: number;
  atMost?: number;
  /** UDP: the most loss accepted, in percent */
  lossAtMost?: number;
  family: Family;
}

interface Raw {
  from: string;
  to: string;
  protocol?: 'tcp' | 'udp';
  seconds?: number;
  streams?: number;
  reverse?: boolean;
  bitrate?: string;
  window?: string;
  'at-least'?: string;
  'at-most'?: string;
  'loss-at-most'?: number;
  family?: Family;
}

const RATE = {
  type: 'string',
  pattern: '^\\s*\\d+(\\.\\d+)?\\s*[kKmMgGtT]?(bit/s|bps|b/s|bit)?\\s*$',
};

/** Seconds an idle server waits for its client before it exits by itself. */
const SERVER_IDLE_S = 60;
/**
 * Seconds a client may take beyond the test's own (connecting, the results exchange, its JSON over a serial
 * console), on a namespace machine and where a VM is involved. iperf3 can stall at the end of a test before the
 * results exchange (esnet/iperf#1527): the deadline keeps that stall short, and the check measures once more.
 */
const CLIENT_MARGIN_S = { host: 12, vm: 30 };

export const throughput = defineCheck<ThroughputAssertion, Raw>({
  kind: 'throughput',
  summary: 'iperf3 between two machines or guests (TCP or UDP): Mbit/s, retransmits or loss, CPU use, with a floor',
  measures: true,
  tools: [{ bin: 'iperf3', pkg: 'iperf3' }],
  schema: {
    required: ['from', 'to'],
    properties: {
      from: ref('source', 'The iperf3 client (machine, guest, or machine:device to send from that address).'),
      to: ref('endpoint', 'The iperf3 server: a machine, a guest, or machine:device; not a bare address.'),
      protocol: { enum: ['tcp', 'udp'], default: 'tcp' },
      seconds: { type: 'integer', minimum: 1, maximum: 60, default: 5, description: 'How long it measures.' },
      streams: { type: 'integer', minimum: 1, maximum: 16, default: 1, description: 'Parallel streams (-P).' },
      reverse: { type: 'boolean', default: false, description: 'The server sends, the client receives (-R).' },
      bitrate: { ...RATE, description: "UDP's sending rate (-b), e.g. 100 Mbit/s; default 10 Mbit/s." },
      window: {
        type: 'string',
        pattern: '^\\s*\\d+\\s*[kKmM]?(i?B)?\\s*$',
        description: 'TCP: the socket buffer (-w), e.g. 64K; it bounds the window, so throughput <= window / RTT.',
      },
      'at-least': { ...RATE, description: 'The floor: fails below this rate, e.g. "50 Mbit/s".' },
      'at-most': { ...RATE, description: 'The ceiling: fails above this rate (an impairment that must hold).' },
      'loss-at-most': { type: 'number', minimum: 0, maximum: 100, description: 'UDP: the most loss, in percent.' },
      family: FAMILY_SCHEMA,
    },
  },
  resolve(raw, ctx, at, base) {
    const src = resolveFrom(raw.from, ctx, [...at, 'from']);
    const to = ctx.endpoint([...at, 'to'], raw.to);
    if (to?.type === 'ip') {
      ctx.err(
        [...at, 'to'],
        `throughput needs iperf3's server on a machine or a guest, not the bare address ${to.ip}`,
        'name the machine or guest (or machine:device) that has this address',
      );
      return undefined;
    }
    const protocol = raw.protocol ?? 'tcp';
    const wrong = (protocol === 'tcp' ? (['bitrate', 'loss-at-most'] as const) : (['window'] as const)).find(
      (f) => raw[f] !== undefined,
    );
    if (wrong) {
      ctx.err(
        [...at, wrong],
        `${wrong} is for ${protocol === 'tcp' ? 'UDP' : 'TCP'}`,
        protocol === 'tcp' ? 'add protocol: udp, or remove it' : 'remove it, or measure TCP',
      );
      return undefined;
    }
    if (!src || !to) return undefined;
    const mbps = (r?: string) => (r === undefined ? undefined : parseRate(r)! / 1e6);
    const atLeast = mbps(raw['at-least']);
    const atMost = mbps(raw['at-most']);
    if (atLeast !== undefined && atMost !== undefined && atMost < atLeast) {
      ctx.err([...at, 'at-most'], `at-most (${raw['at-most']}) is below at-least (${raw['at-least']})`);
      return undefined;
    }
    const window = raw.window === undefined ? undefined : parseSize(raw.window);
    const bitrate = raw.bitrate === undefined ? undefined : parseRate(raw.bitrate);
    return {
      ...base,
      kind: 'throughput',
      ...src,
      to,
      test: {
        protocol,
        seconds: raw.seconds ?? 5,
        streams: raw.streams ?? 1,
        reverse: raw.reverse ?? false,
        ...(bitrate ? { bitrate } : {}),
        ...(window ? { window } : {}),
      },
      ...(atLeast !== undefined ? { atLeast } : {}),
      ...(atMost !== undefined ? { atMost } : {}),
      ...(raw['loss-at-most'] !== undefined ? { lossAtMost: raw['loss-at-most'] } : {}),
      family: familyOf(raw, to),
    };
  },
  title: (a) =>
    `${a.test.protocol.toUpperCase()} throughput ${a.test.reverse ? 'to' : 'from'} ${a.from}${a.fromDev ? `:${a.fromDev}` : ''} ` +
    `${a.test.reverse ? 'from' : 'to'} ${endpointName(a.to)}${bounds(a)}`,
  nodes: (a) => [a.from, ...endpointNode(a.to)],
  edge: (a) => ({ from: a.fromDev ? `${a.from}:${a.fromDev}` : a.from, to: endpointName(a.to) }),
  check: measure,
});

function bounds(a: ThroughputAssertion): string {
  const b = [
    ...(a.atLeast !== undefined ? [`at least ${formatMbps(a.atLeast)}`] : []),
    ...(a.atMost !== undefined ? [`at most ${formatMbps(a.atMost)}`] : []),
  ];
  return b.length ? ` is ${b.join(' and ')}` : '';
}

/**
 * Attempts at a measurement: a client that stalls (a test that never ends, or a connection that times out right
 * after such a stall) is killed and measured again after a pause. Seen here a few times in a hundred measurements.
 */
const ATTEMPTS = 3;
const PAUSE_AFTER_FAILURE_MS = 2000;

async function measure(a: ThroughputAssertion, s: Session): Promise<Observation> {
  const serverNode = endpointNode(a.to)[0]!;
  const target = await endpointIp(a.to, s, a.family);
  if (!target.ip) return { ok: false, seen: target.why!, evidence: [], inconclusive: true };
  const bind = a.fromDev
    ? await endpointIp({ type: 'interface', name: a.from, dev: a.fromDev }, s, a.family)
    : undefined;
  if (bind && !bind.ip) return { ok: false, seen: bind.why!, evidence: [], inconclusive: true };
  const evidence: Evidence[] = [];
  let out: { ok: false; seen: string; inconclusive: boolean } | { result: IperfResult } | undefined;
  for (let i = 0; i < ATTEMPTS && !(out && 'result' in out); i++) {
    if (i > 0) await new Promise((ok) => setTimeout(ok, PAUSE_AFTER_FAILURE_MS));
    out = await attempt(a, s, serverNode, target.ip, bind?.ip, evidence);
  }
  if (!out || !('result' in out)) return { ...out!, evidence };
  const res = out.result;
  const short = a.atLeast !== undefined && res.mbps < a.atLeast;
  const over = a.atMost !== undefined && res.mbps > a.atMost;
  const lossy = a.lossAtMost !== undefined && (res.lossPct ?? 0) > a.lossAtMost;
  const extra =
    res.retransmits !== undefined
      ? `${res.retransmits} retransmits`
      : `${res.lossPct}% lost, jitter ${res.jitterMs} ms`;
  const seen =
    `${formatMbps(res.mbps)} ${a.test.reverse ? 'from' : 'to'} ${target.ip} (${extra}; CPU ${res.cpuClient}% client, ` +
    `${res.cpuServer}% server)` +
    (short ? `, below the floor of ${formatMbps(a.atLeast!)}` : '') +
    (over ? `, above the ceiling of ${formatMbps(a.atMost!)}` : '') +
    (lossy ? `, more than the ${a.lossAtMost}% loss accepted` : '');
  return { ok: !short && !over && !lossy, seen, evidence, figures: iperfFigures(res) };
}

/** One measurement: the server started, the client run under a deadline of its own, the server stopped. */
async function attempt(
  a: ThroughputAssertion,
  s: Session,
  serverNode: string,
  ip: string,
  bind: string | undefined,
  evidence: Evidence[],
): Promise<{ ok: false; seen: string; inconclusive: boolean } | { result: IperfResult }> {
  const vm = inVm(s, a.from) || inVm(s, serverNode);
  const pidFile = `/tmp/virtlab-iperf3-${randomBytes(4).toString('hex')}.pid`;
  const server = nodeExec(s, serverNode);
  const started = await server.run(serverArgv(pidFile, SERVER_IDLE_S, a.to.type === 'interface' ? ip : undefined), {
    check: false,
  });
  evidence.push(ev(started));
  if (started.exitCode !== 0) {
    const why = (started.stderr || started.stdout).trim().split('\n').pop();
    return { ok: false, seen: `iperf3's server did not start on ${serverNode}: ${why}`, inconclusive: true };
  }
  try {
    const client = nodeExec(s, a.from);
    // the client gets a deadline on its own machine (a guest's console stays usable when a test stalls)
    const limitS = a.test.seconds + CLIENT_MARGIN_S[vm ? 'vm' : 'host'];
    const argv = withDeadline(limitS, clientArgv(a.test, ip, bind));
    const timeoutMs = (limitS + 15) * 1000;
    let r = await client.run(argv, { check: false, timeoutMs });
    // the daemonised server may not listen yet when its start command returns
    for (let i = 0; i < 3 && /Connection refused/.test(r.stdout); i++) {
      await new Promise((ok) => setTimeout(ok, 300));
      r = await client.run(argv, { check: false, timeoutMs });
    }
    evidence.push(ev(r));
    const res = parseIperf(r.stdout || r.stderr, a.test.protocol);
    if (!('error' in res)) return { result: res };
    const killed = r.exitCode === 137 || r.exitCode === 124;
    const seen = killed ? `iperf3 did not finish within ${limitS} s (killed)` : res.error;
    return { ok: false, seen, inconclusive: r.exitCode !== 0 };
  } finally {
    await server.run(stopServerArgv(pidFile), { check: false }).catch(() => {});
  }
}
