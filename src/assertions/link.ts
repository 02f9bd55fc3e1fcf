import type { Assertion } from '../lab/model.ts';
import { linkInfo } from '../hypervisor/ops.ts';
import { exec } from '../runner/session.ts';
import type { Check } from './check.ts';
import { guestDevice, guestOf } from './facts.ts';

export const link: Check<Extract<Assertion, { kind: 'link' }>> = async (a, s) => {
  const evidence = [];
  let dev = a.nic;
  if (a.guestTap) {
    const d = await guestDevice(s, guestOf(s.lab, a.guestTap));
    evidence.push(d.evidence);
    dev = d.dev;
    if (!dev) return { ok: false, seen: `guest ${a.guestTap} has no host-side device`, evidence };
  }
  const li = await linkInfo(exec(s, a.on), dev!);
  evidence.push({
    machine: a.on,
    argv: ['ip', '-j', '-d', 'addr', 'show', 'dev', dev!],
    exitCode: li.exitCode,
    stdout: li.stdout,
  });
  if (!li.link) return { ok: false, seen: `${dev} does not exist on ${a.on}`, evidence };
  const l = li.link;
  const promisc = l.flags.includes('PROMISC');
  const up = l.flags.includes('UP');
  const facts: string[] = [];
  let ok = true;
  if (a.promisc !== undefined) {
    facts.push(`PROMISC ${promisc ? 'set' : 'not set'} (promiscuity ${l.promiscuity ?? '?'})`);
    ok &&= promisc === a.promisc;
  }
  if (a.up !== undefined) {
    facts.push(up ? 'UP' : 'DOWN');
    ok &&= up === a.up;
  }
  if (a.ipv4 !== undefined) {
    facts.push(l.ipv4.length ? `IPv4 ${l.ipv4.join(', ')}` : 'no IPv4 address');
    ok &&= l.ipv4.length > 0 === a.ipv4;
  }
  return { ok, seen: `${dev}${l.kind ? ` (${l.kind})` : ''} on ${a.on}: ${facts.join(', ')}`, evidence };
};
