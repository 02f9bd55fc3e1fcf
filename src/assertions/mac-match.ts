import type { Assertion } from '../lab/model.ts';
import { linkInfo } from '../hypervisor/ops.ts';
import { exec } from '../runner/session.ts';
import type { Check } from './check.ts';
import { guestDevice, guestOf, guestReady } from './facts.ts';

/** The MAC the guest itself reports equals the lab's MAC and the MAC of its host-side device (found, never assumed). */
export const macMatch: Check<Extract<Assertion, { kind: 'mac-match' }>> = async (a, s) => {
  const g = guestOf(s.lab, a.guest);
  const dev = await guestDevice(s, g);
  if (!dev.dev) return { ok: false, seen: `virsh domiflist ${g.name} lists no interface`, evidence: [dev.evidence] };
  const li = await linkInfo(exec(s, g.on), dev.dev);
  const evidence = [
    dev.evidence,
    {
      machine: g.on,
      argv: ['ip', '-j', '-d', 'addr', 'show', 'dev', dev.dev],
      exitCode: li.exitCode,
      stdout: li.stdout,
    },
  ];
  const ready = await guestReady(s, g);
  const seen = `lab ${g.mac}, guest says ${ready?.mac ?? '(no ready line)'}, ${dev.dev} on ${g.on} has ${li.link?.address ?? '(missing)'}`;
  const ok = li.link?.address === g.mac && (ready === undefined || ready.mac === g.mac);
  return { ok, seen, evidence };
};
