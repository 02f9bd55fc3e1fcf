// mac-match: the MAC the guest reports equals the lab's MAC and that of its host-side device (found, never assumed).

import { linkInfo } from '../../hypervisor/ops.ts';
import type { AssertionBase } from '../../lab/model.ts';
import { defineCheck, ref } from '../define.ts';
import { guestDevice, guestOf, guestReady } from '../facts.ts';
import { exec } from '../session.ts';

export interface MacMatchAssertion extends AssertionBase {
  kind: 'mac-match';
  guest: string;
}

interface Raw {
  guest: string;
}

export const macMatch = defineCheck<MacMatchAssertion, Raw>({
  kind: 'mac-match',
  summary: "the guest's MAC equals the MAC of its host-side device (a macvtap or tap on the hypervisor)",
  schema: { required: ['guest'], properties: { guest: ref('objName') } },
  resolve: (raw, ctx, at, base) =>
    ctx.checkGuest([...at, 'guest'], raw.guest) ? { ...base, kind: 'mac-match', guest: raw.guest } : undefined,
  title: (a) => `${a.guest}'s MAC equals its host-side device's MAC`,
  nodes: (a) => [a.guest],
  async check(a, s) {
    const g = guestOf(s.lab, a.guest);
    const dev = await guestDevice(s, g);
    if (!dev.dev) return { ok: false, seen: `virsh domiflist ${g.name} lists no interface`, evidence: [dev.evidence] };
    const li = await linkInfo(exec(s, g.on), dev.dev);
    const argv = ['ip', '-j', '-d', 'addr', 'show', 'dev', dev.dev];
    const evidence = [dev.evidence, { machine: g.on, argv, exitCode: li.exitCode, stdout: li.stdout }];
    const ready = await guestReady(s, g);
    const seen = `lab ${g.mac}, guest says ${ready?.mac ?? '(no ready line)'}, ${dev.dev} on ${g.on} has ${li.link?.address ?? '(missing)'}`;
    const ok = li.link?.address === g.mac && (ready === undefined || ready.mac === g.mac);
    return { ok, seen, evidence };
  },
});
