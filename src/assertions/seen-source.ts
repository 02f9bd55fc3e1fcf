import type { Assertion } from '../lab/model.ts';
import { exec, nodeExec } from '../runner/session.ts';
import { ev, type Check } from './check.ts';
import { machineIp } from './facts.ts';
import { endpointIp } from './ping.ts';

/** `to` captures the echo requests that `from` sends it (tcpdump) and reports their source address. */
export const seenSource: Check<Extract<Assertion, { kind: 'seen-source' }>> = async (a, s) => {
  const dst = machineIp(s.lab, a.to);
  const want = await endpointIp(a.source, s);
  if (!dst || !want.ip)
    return { ok: false, seen: !dst ? `${a.to} has no static address` : want.why!, evidence: [], inconclusive: true };
  const capture = exec(s, a.to).run(
    [
      'timeout',
      '10',
      'tcpdump',
      '-n',
      '-l',
      '-p',
      '-c',
      '1',
      '-i',
      'any',
      'icmp[icmptype] == icmp-echo',
      'and',
      'dst',
      'host',
      dst,
    ],
    { check: false, timeoutMs: 15000 },
  );
  await new Promise((r) => setTimeout(r, 700)); // let tcpdump open its socket
  const p = await nodeExec(s, a.from).run(['ping', '-c', '3', '-W', '1', dst], { check: false, timeoutMs: 15000 });
  const c = await capture;
  const m = /IP (\d+\.\d+\.\d+\.\d+) > \d+\.\d+\.\d+\.\d+: ICMP echo request/.exec(c.stdout);
  if (!m) return { ok: false, seen: `${a.to} captured no echo request from ${a.from}`, evidence: [ev(p), ev(c)] };
  return {
    ok: m[1] === want.ip,
    seen: `${a.to} sees ${a.from}'s pings coming from ${m[1]} (expected ${want.ip})`,
    evidence: [ev(p), ev(c)],
  };
};
