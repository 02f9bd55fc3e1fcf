// iperf3 as the throughput check uses it: the server and client command lines, its JSON result read into figures,
// and rates as labs write them ("500 Mbit/s", "1G"). Pure: no commands run here.
import type { Figure } from '../../report/events.ts';

export const IPERF_PORT = 5201;

/** How a throughput check measures: TCP or UDP, for how long, how many streams, which way, UDP's target rate. */
export interface IperfTest {
  protocol: 'tcp' | 'udp';
  seconds: number;
  streams: number;
  /** the server sends and the client receives (iperf3 -R) */
  reverse: boolean;
  /** UDP's sending rate in bit/s (iperf3 -b) */
  bitrate?: number;
  /** TCP: the socket buffer in bytes (iperf3 -w), which bounds the window: throughput <= window / RTT */
  window?: number;
}

/**
 * The server: one test, then it exits (-1); daemonised with a pid file the check removes it by; an idle server
 * (the client never came) exits by itself after the test's time and a margin.
 */
export function serverArgv(pidFile: string, idleS: number, bind?: string): string[] {
  const b = bind ? ['-B', bind] : [];
  return ['iperf3', '-s', '-1', '-D', '-p', String(IPERF_PORT), '--idle-timeout', String(idleS), '-I', pidFile, ...b];
}

export function clientArgv(t: IperfTest, server: string, bind?: string): string[] {
  return [
    'iperf3',
    '-c',
    server,
    '-p',
    String(IPERF_PORT),
    '-J',
    '-t',
    String(t.seconds),
    '-P',
    String(t.streams),
    '--connect-timeout',
    '3000',
    ...(t.reverse ? ['-R'] : []),
    ...(t.protocol === 'udp' ? ['-u', '-b', String(t.bitrate ?? 10_000_000)] : []),
    ...(t.window ? ['-w', String(t.window)] : []),
    ...(bind ? ['-B', bind] : []),
  ];
}

/** A command killed after `seconds` (coreutils and busybox `timeout` both take -s). */
export function withDeadline(seconds: number, argv: string[]): string[] {
  return ['timeout', '-s', 'KILL', String(Math.ceil(seconds)), ...argv];
}

/** Stops the server by its pid file if it still runs (it exits by itself after one test), and removes the file. */
export function stopServerArgv(pidFile: string): string[] {
  const script = 'p=$(cat "$0" 2>/dev/null) && [ -n "$p" ] && kill "$p" 2>/dev/null; rm -f "$0"; true';
  return ['sh', '-c', script, pidFile];
}

export interface IperfResult {
  /** Mbit/s the receiver got */
  mbps: number;
  /** Mbit/s of each interval (one a second), the spread a baseline's band comes from */
  samples: number[];
  /** TCP: segments the sender retransmitted */
  retransmits?: number;
  /** UDP: datagrams lost, in percent, and the receiver's jitter */
  lossPct?: number;
  jitterMs?: number;
  /** CPU use of the client's and the server's host, in percent */
  cpuClient: number;
  cpuServer: number;
}

interface IperfJson {
  error?: string;
  intervals?: { sum?: { bits_per_second?: number; omitted?: boolean } }[];
  end?: {
    sum_sent?: { bits_per_second?: number; retransmits?: number };
    sum_received?: { bits_per_second?: number; jitter_ms?: number; lost_percent?: number };
    sum?: { bits_per_second?: number; jitter_ms?: number; lost_percent?: number };
    cpu_utilization_percent?: { host_total?: number; remote_total?: number };
  };
}

const round = (x: number, digits = 1) => Number(x.toFixed(digits));

/** Reads `iperf3 -J` output: the figures, or what went wrong (iperf3's own error, or output that is not its JSON). */
export function parseIperf(out: string, protocol: 'tcp' | 'udp'): IperfResult | { error: string } {
  let j: IperfJson;
  try {
    j = JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as IperfJson;
  } catch {
    const last = out.trim().split('\n').pop() ?? '';
    return { error: `iperf3 printed no result${last ? `: ${last.slice(0, 200)}` : ''}` };
  }
  if (j.error) return { error: `iperf3: ${j.error}` };
  const end = j.end;
  const rx = end?.sum_received ?? end?.sum;
  if (!end || rx?.bits_per_second === undefined) return { error: 'iperf3 reported no received total' };
  const samples = (j.intervals ?? [])
    .filter((i) => !i.sum?.omitted && i.sum?.bits_per_second !== undefined)
    .map((i) => round(i.sum!.bits_per_second! / 1e6, 2));
  return {
    mbps: round(rx.bits_per_second / 1e6, 2),
    samples,
    ...(protocol === 'tcp'
      ? { retransmits: end.sum_sent?.retransmits ?? 0 }
      : { lossPct: round(rx.lost_percent ?? 0, 3), jitterMs: round(rx.jitter_ms ?? 0, 3) }),
    cpuClient: round(end.cpu_utilization_percent?.host_total ?? 0),
    cpuServer: round(end.cpu_utilization_percent?.remote_total ?? 0),
  };
}

/** The figures a result reports, named as baselines keep them. */
export function iperfFigures(r: IperfResult): Figure[] {
  // UDP sends at the rate it is asked for: its rate is no measure of the path (its loss and jitter are), so it keeps
  // no samples and no baseline judges it
  const samples = r.retransmits !== undefined ? { samples: r.samples } : {};
  const f: Figure[] = [{ name: 'throughput', value: r.mbps, unit: 'Mbit/s', better: 'higher', ...samples }];
  if (r.retransmits !== undefined)
    f.push({ name: 'retransmits', value: r.retransmits, unit: 'segments', better: 'lower' });
  if (r.lossPct !== undefined) f.push({ name: 'loss', value: r.lossPct, unit: '%', better: 'lower' });
  if (r.jitterMs !== undefined) f.push({ name: 'jitter', value: r.jitterMs, unit: 'ms', better: 'lower' });
  f.push({ name: 'cpu-client', value: r.cpuClient, unit: '%', better: 'lower' });
  f.push({ name: 'cpu-server', value: r.cpuServer, unit: '%', better: 'lower' });
  return f;
}

const RATE_UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 };

/** "500 Mbit/s", "500Mbit/s", "500 Mbps", "1G", "800k" → bit/s; undefined when it is not a rate. */
export function parseRate(s: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:bit\/s|bps|b\/s|bit)?\s*$/i.exec(s);
  if (!m) return undefined;
  const v = Number(m[1]) * RATE_UNITS[m[2]!.toLowerCase()]!;
  return v > 0 ? v : undefined;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2 };

/** "64K", "128 KiB", "1M", "65536" → bytes; undefined when it is not a size. */
export function parseSize(s: string): number | undefined {
  const m = /^\s*(\d+)\s*([kKmM]?)(?:i?B)?\s*$/.exec(s);
  const v = m ? Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]! : 0;
  return v > 0 ? v : undefined;
}

/** A rate for people: 12.3 Mbit/s, 1.2 Gbit/s. */
export function formatMbps(mbps: number): string {
  return mbps >= 1000 ? `${round(mbps / 1000, 2)} Gbit/s` : `${round(mbps, mbps < 10 ? 2 : 1)} Mbit/s`;
}
