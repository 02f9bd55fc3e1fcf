// Waiting until each guest is ready: its lease exists and its ready line is on the serial console (on a dual-stack
// LAN, also its SLAAC address, once duplicate detection passed).
import pRetry from 'p-retry';
import { HostError, InterruptedError } from '../errors.ts';
import { scaled } from '../host/config.ts';
import { consoleText } from '../hypervisor/ops.ts';
import type { Lease } from '../hypervisor/parse/leases.ts';
import { CIRROS_READY, parseIpv6Lines, VIRTLAB_GUEST_BOOTED } from '../hypervisor/parse/virsh.ts';
import { guestIp6 } from '../lab/lease-source.ts';
import type { Guest } from '../lab/model.ts';
import { firstNicReady, guestLease } from './facts.ts';
import { exec, inVm, type Session } from './session.ts';

/**
 * On a dual-stack LAN, why the guest's IPv6 address is not usable yet: the virtlab guest announces it once duplicate
 * detection passed (a check before that meets a tentative address); other images say nothing, and are not waited for.
 */
function v6Pending(consoleText: string, want6: string): string | undefined {
  if (!consoleText.includes(VIRTLAB_GUEST_BOOTED)) return undefined;
  const v6 = parseIpv6Lines(consoleText);
  if (v6.includes(want6)) return undefined;
  return `its IPv6 address ${want6} is not usable yet${v6.length ? ` (it has ${v6.join(', ')})` : ''}`;
}

/** Not ready yet: p-retry tries again. */
class NotReady extends Error {}

export interface Readiness {
  ip: string;
  mac: string;
  ms: number;
}

/** How long a guest is waited for: the base, longer for a guest inside a VM hypervisor (emulated, slower). */
export function readyDeadlineMs(s: Session, g: Guest, baseDeadlineMs: number): number {
  return scaled(baseDeadlineMs, inVm(s, g.name));
}

export async function waitReady(
  s: Session,
  g: Guest,
  baseDeadlineMs: number,
  ranSteps?: Set<string>,
  waiting = 1,
): Promise<Readiness> {
  const t0 = performance.now();
  const emulated = inVm(s, g.name);
  const deadlineMs = readyDeadlineMs(s, g, baseDeadlineMs);
  let last = 'nothing yet';
  const extra = g.nics.slice(1).filter((n) => !ranSteps || ranSteps.has(n.step));
  const want6 = guestIp6(s.lab, g).ip;
  // the leases are read once the console says the network is up (the guest prints that after DHCP), and otherwise
  // once a second (for the messages, and for images that print nothing): a lease read can be a virsh command
  let leasesReadAt = -Infinity;
  let leases: { lease?: Lease }[] = [];
  try {
    return await pRetry(
      async () => {
        // the console is read once per round: the ready line, the IPv6 line and CirrOS's own line all come from it
        const text = await consoleText(exec(s, g.on), g.name);
        if (text.includes(CIRROS_READY) || performance.now() - leasesReadAt >= 1000) {
          leasesReadAt = performance.now();
          leases = await Promise.all([guestLease(s, g), ...extra.map((n) => guestLease(s, g, n.network))]);
        }
        const [{ lease } = {}, ...others] = leases;
        const ready = firstNicReady(text);
        const missing = extra.filter((_, i) => !others[i]!.lease).map((n) => n.network);
        // a NIC attached later is waited for whichever way the first one is known to be up: by its ready line, or by
        // CirrOS's own line (also what the virtlab guest prints when its ready line came out garbled on the console)
        if (lease && (ready || text.includes(CIRROS_READY)) && missing.length) {
          last = `no lease yet for its NIC on ${missing.join(', ')}`;
          throw new NotReady(last);
        }
        const pending6 = want6 && v6Pending(text, want6);
        if (lease && pending6) {
          last = `lease ${lease.ip} but ${pending6}`;
          throw new NotReady(last);
        }
        if (lease && ready) return { ip: lease.ip, mac: ready.mac, ms: Math.round(performance.now() - t0) };
        if (lease && !ready && text.includes(CIRROS_READY)) {
          return { ip: lease.ip, mac: g.mac, ms: Math.round(performance.now() - t0) };
        }
        last = lease
          ? `lease ${lease.ip} but no ready line on the console yet`
          : ready
            ? `console says ready (${ready.ip}) but no lease`
            : 'no lease and no ready line yet';
        throw new NotReady(last);
      },
      {
        // many guests booting at once on few cores: poll each less often, the guests need the CPU more than we do;
        // one or two: every 25-50 ms (a round is one `cat` of the console), the time from ready to noticed. Measured
        // in alternating runs of kvm-macvtap: 25-50 ms noticed the guest sooner than 50-100 ms in 7 runs of 7 (median
        // 35 ms); 12-25 ms no sooner again (the polls' own CPU starts to count)
        retries: 100000,
        minTimeout: (emulated ? 300 : waiting <= 2 ? 25 : 100) * Math.max(1, waiting / 4),
        maxTimeout: (emulated ? 1000 : waiting <= 2 ? 50 : 250) * Math.max(1, waiting / 4),
        factor: 1.2,
        maxRetryTime: deadlineMs,
        signal: s.signal,
      },
    );
  } catch (e) {
    if (s.signal.aborted) throw new InterruptedError();
    const tail = (await consoleText(exec(s, g.on), g.name).catch(() => ''))
      .trimEnd()
      .split('\n')
      .slice(-5)
      .join('\n    ');
    throw new HostError(
      `guest ${g.name} on ${g.on} was not ready after ${Math.round(deadlineMs / 1000)} s: ${last}${tail ? `\n  last console lines:\n    ${tail}` : ''}`,
      "see the console log in the report folder; a missing lease often means the lower device drops the guest's frames (promiscuous mode?)",
      { cause: e },
    );
  }
}
