// Where did the packet die? A failed ping is run once more while tcpdump listens on every port along its path (the
// source's NIC, both switch ports of the underlay, the hypervisor's lower device, the guest's host-side device). The
// pcaps go into the evidence; the last port that saw the echo request is said and marked on the topology.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PingAssertion } from '../kinds/checks/ping.ts';
import { endpointIp, pingOnce } from '../kinds/checks/ping.ts';
import { guestDevice } from '../kinds/facts.ts';
import type { Session } from '../kinds/session.ts';
import { leaseSource, underlayOf } from '../lab/lease-source.ts';
import type { Lab } from '../lab/model.ts';
import type { AssertionResult, PacketTrace } from '../report/events.ts';
import type { Executor } from '../transport/executor.ts';

interface Hop {
  label: string;
  /** the topology node it belongs to */
  node: string;
  dev: string;
  exec: Executor;
}

/** The lower device and underlay of a guest on a macvtap network or host bridge, when it has one. */
function guestUplink(lab: Lab, guest: string): { on: string; dev: string; network: string } | undefined {
  const g = lab.guests.find((x) => x.name === guest);
  if (!g) return undefined;
  const src = leaseSource(lab, g);
  if (src.type !== 'underlay') return undefined;
  const net = lab.libvirtNetworks.find((n) => n.on === g.on && n.name === g.network);
  const dev = g.direct?.dev ?? g.bridge ?? net?.dev ?? net?.bridge;
  return dev ? { on: g.on, dev, network: src.network } : undefined;
}

/** The ports a ping from a machine to a machine or guest crosses, in order; undefined for paths it cannot follow. */
async function pathOf(s: Session, a: PingAssertion): Promise<Hop[] | undefined> {
  const lab = s.lab;
  const from = lab.machines.find((m) => m.name === a.from);
  const to = a.to;
  if (!from || to.type === 'ip' || to.type === 'interface') return undefined;
  const guest = to.type === 'guest' ? guestUplink(lab, to.name) : undefined;
  const far =
    to.type === 'guest'
      ? guest && { machine: guest.on, dev: guest.dev, network: guest.network }
      : (() => {
          const t = lab.machines.find((m) => m.name === to.name);
          const nic = t?.nics.find((n) => from.nics.some((f) => f.network === n.network));
          return t && nic ? { machine: t.name, dev: nic.name, network: nic.network } : undefined;
        })();
  if (!far) return undefined;
  const nic = a.fromDev ?? from.nics.find((n) => n.network === far.network)?.name;
  const u = s.underlays.get(far.network);
  if (!nic || !u || underlayOf(lab, from.name, nic) !== far.network) return undefined;
  const portOf = (machine: string, dev: string) => u.ports.find((p) => p.machine === machine && p.nic === dev)?.port;
  const nearPort = portOf(from.name, nic);
  const farPort = portOf(far.machine, far.dev);
  const hops: Hop[] = [
    { label: `${from.name} ${nic}`, node: `m:${from.name}`, dev: nic, exec: s.machines.get(from.name)!.exec },
  ];
  if (nearPort)
    hops.push({ label: `${u.name} port of ${from.name}`, node: `net:${u.name}`, dev: nearPort, exec: u.exec });
  if (farPort)
    hops.push({ label: `${u.name} port of ${far.machine}`, node: `net:${u.name}`, dev: farPort, exec: u.exec });
  hops.push({
    label: `${far.machine} ${far.dev}`,
    node: `m:${far.machine}`,
    dev: far.dev,
    exec: s.machines.get(far.machine)!.exec,
  });
  if (to.type === 'guest') {
    const g = lab.guests.find((x) => x.name === to.name)!;
    const dev = (await guestDevice(s, g)).dev;
    if (dev)
      hops.push({ label: `${g.name}'s ${dev} on ${g.on}`, node: `g:${g.name}`, dev, exec: s.machines.get(g.on)!.exec });
  }
  return hops;
}

const CAPTURE_S = 4;

/**
 * Captures on one hop while the ping runs: the pcap, fetched as base64 (the executors carry text). Never rejects (a
 * machine that cannot be reached gives no pcap): the captures run unawaited while the ping goes.
 */
async function capture(h: Hop, ip: string, file: string): Promise<Buffer | undefined> {
  const script = 'timeout "$0" tcpdump -i "$1" -n -U -w "$2" "$3" >/dev/null 2>&1; base64 -w0 "$2"; rm -f "$2"';
  try {
    const r = await h.exec.run(['sh', '-c', script, String(CAPTURE_S), h.dev, file, `icmp and host ${ip}`], {
      check: false,
      timeoutMs: (CAPTURE_S + 10) * 1000,
    });
    return r.stdout.trim() ? Buffer.from(r.stdout.trim(), 'base64') : undefined;
  } catch {
    return undefined;
  }
}

/** Echo requests in a pcap, counted by tcpdump on this host. */
function echoRequests(pcap: string): number {
  const r = spawnSync('tcpdump', ['-r', pcap, '-n', 'icmp[icmptype] == icmp-echo'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l.includes('ICMP echo request')).length;
}

/** Runs a failed ping again with captures along its path; the trace, and the pcaps in evidence/<check>/. */
export async function tracePing(
  s: Session,
  a: PingAssertion,
  dir: string,
  tag: string,
): Promise<PacketTrace | undefined> {
  const hops = await pathOf(s, a);
  const target = await endpointIp(a.to, s);
  if (!hops || !target.ip) return undefined;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const captures = hops.map((h, i) => capture(h, target.ip!, `/tmp/virtlab-trace-${tag}-${i}.pcap`));
  // tcpdump needs a moment to listen before the pings leave
  await new Promise((r) => setTimeout(r, 1500));
  await pingOnce(s, a.from, a.to, { count: 2, fromDev: a.fromDev }).catch(() => undefined);
  const pcaps = await Promise.all(captures);
  const seen = hops.map((h, i) => {
    const data = pcaps[i];
    if (!data) return { label: h.label, node: h.node, requests: -1 };
    const file = join(dir, `${i + 1}-${h.label.replace(/[^A-Za-z0-9.-]+/g, '_')}.pcap`);
    writeFileSync(file, data, { mode: 0o600 });
    return { label: h.label, node: h.node, requests: echoRequests(file), pcap: file };
  });
  const reached = seen.filter((h) => h.requests > 0);
  const last = reached[reached.length - 1];
  const next = last ? seen[seen.indexOf(last) + 1] : seen[0];
  return {
    hops: seen,
    ...(last ? { last: last.label, lastNode: last.node } : {}),
    ...(next ? { lostBefore: next.label } : {}),
  };
}

/** What a trace says in one line. */
export function traceLine(r: AssertionResult): string | undefined {
  const t = r.trace;
  if (!t) return undefined;
  if (!t.last) return `${r.id}: the echo requests were not seen even on ${t.hops[0]?.label ?? 'the source'}`;
  if (!t.lostBefore)
    return `${r.id}: the echo requests reached ${t.last}, the last port on their path; the replies did not come back`;
  return `${r.id}: the echo requests were last seen on ${t.last}, never on ${t.lostBefore}`;
}
