// link: a NIC of a machine, or a guest's host-side device, is (not) promiscuous, up, or has an IPv4 address.

import { linkInfo } from '../../hypervisor/ops.ts';
import type { AssertionBase } from '../../lab/model.ts';
import type { Evidence } from '../../report/events.ts';
import { defineCheck, ref } from '../define.ts';
import { guestDevice, guestOf } from '../facts.ts';
import { exec } from '../session.ts';

export interface LinkAssertion extends AssertionBase {
  kind: 'link';
  on: string;
  nic?: string;
  guestTap?: string;
  promisc?: boolean;
  up?: boolean;
  ipv4?: boolean;
}

interface Raw {
  on: string;
  nic?: string;
  'guest-tap'?: string;
  promisc?: boolean;
  up?: boolean;
  ipv4?: boolean;
}

export const link = defineCheck<LinkAssertion, Raw>({
  kind: 'link',
  summary: "a machine's NIC or a guest's host-side device is (not) promiscuous, up, or has an IPv4 address",
  schema: {
    required: ['on'],
    properties: {
      on: ref('machineName'),
      nic: ref('ifName', 'A NIC of the machine, or a device a step built on it.'),
      'guest-tap': ref(
        'objName',
        "Instead of nic: the host-side device of this guest's NIC (macvtap/tap), found from virsh domiflist.",
      ),
      promisc: { type: 'boolean', description: 'The PROMISC flag is (true) / is not (false) set.' },
      up: { type: 'boolean' },
      ipv4: { type: 'boolean', description: 'The device has (true) / has no (false) IPv4 address.' },
    },
  },
  resolve(raw, ctx, at, base) {
    if (!ctx.checkMachine([...at, 'on'], raw.on)) return undefined;
    if ((raw.nic === undefined) === (raw['guest-tap'] === undefined)) {
      ctx.err(at, 'a link assertion needs exactly one of "nic" or "guest-tap"');
      return undefined;
    }
    if (raw.promisc === undefined && raw.up === undefined && raw.ipv4 === undefined) {
      ctx.err(at, 'a link assertion needs at least one of "promisc", "up", "ipv4"');
      return undefined;
    }
    if (raw.nic !== undefined) {
      if (!ctx.checkInterface([...at, 'nic'], raw.on, raw.nic)) return undefined;
    } else {
      if (!ctx.checkGuest([...at, 'guest-tap'], raw['guest-tap']!)) return undefined;
      const g = ctx.guests.find((x) => x.name === raw['guest-tap'])!;
      if (g.on !== raw.on) {
        ctx.err([...at, 'guest-tap'], `guest "${g.name}" runs on ${g.on}, not on ${raw.on}`);
        return undefined;
      }
    }
    const { on, nic, promisc, up, ipv4 } = raw;
    return { ...base, kind: 'link', on, nic, guestTap: raw['guest-tap'], promisc, up, ipv4 };
  },
  title(a) {
    const what = a.nic ?? `${a.guestTap}'s host-side device`;
    const props = [
      a.promisc !== undefined ? (a.promisc ? 'is promiscuous' : 'is not promiscuous') : '',
      a.up !== undefined ? (a.up ? 'is up' : 'is down') : '',
      a.ipv4 !== undefined ? (a.ipv4 ? 'has an IPv4 address' : 'has no IPv4 address') : '',
    ].filter(Boolean);
    return `${what} on ${a.on} ${props.join(', ')}`;
  },
  nodes: (a) => [a.on, ...(a.guestTap ? [a.guestTap] : [])],
  async check(a, s) {
    const evidence: Evidence[] = [];
    let dev = a.nic;
    if (a.guestTap) {
      const d = await guestDevice(s, guestOf(s.lab, a.guestTap));
      evidence.push(d.evidence);
      dev = d.dev;
      if (!dev) return { ok: false, seen: `guest ${a.guestTap} has no host-side device`, evidence };
    }
    const li = await linkInfo(exec(s, a.on), dev!);
    const argv = ['ip', '-j', '-d', 'addr', 'show', 'dev', dev!];
    evidence.push({ machine: a.on, argv, exitCode: li.exitCode, stdout: li.stdout });
    if (!li.link) return { ok: false, seen: `${dev} does not exist on ${a.on}`, evidence };
    const l = li.link;
    const facts: string[] = [];
    let ok = true;
    const promisc = l.flags.includes('PROMISC');
    const up = l.flags.includes('UP');
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
  },
});
