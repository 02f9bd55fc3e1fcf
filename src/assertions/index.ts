// The one explicit list of assertion kinds, and running a lab's assertions concurrently.
import type { Assertion, AssertionKind } from '../lab/model.ts';
import type { AssertionResult } from '../report/events.ts';
import { assertionTitle } from '../runner/plan.ts';
import type { Session } from '../runner/session.ts';
import { arp } from './arp.ts';
import type { Check, Observation } from './check.ts';
import { lease } from './lease.ts';
import { link } from './link.ts';
import { macMatch } from './mac-match.ts';
import { ping } from './ping.ts';
import { guestIp } from './guest-ip.ts';
import { reachability } from './reachability.ts';
import { seenSource } from './seen-source.ts';

export const CHECKS: { [K in AssertionKind]: Check<Extract<Assertion, { kind: K }>> } = {
  lease,
  ping,
  arp,
  'mac-match': macMatch,
  link,
  'guest-ip': guestIp,
  reachability,
  'seen-source': seenSource,
};

export async function runAssertion(a: Assertion, s: Session): Promise<AssertionResult> {
  const t0 = performance.now();
  let obs: Observation;
  try {
    obs = await (CHECKS[a.kind] as Check)(a, s);
  } catch (e) {
    obs = { ok: false, seen: (e as Error).message, evidence: [], inconclusive: true };
  }
  const observed = obs.ok ? 'pass' : 'fail';
  const status = obs.inconclusive ? 'fail' : observed === a.expect ? 'pass' : 'fail';
  const reason = obs.inconclusive
    ? `cannot check: ${obs.seen}`
    : a.expect === 'pass'
      ? obs.seen
      : obs.ok
        ? `expected this to fail, but it worked: ${obs.seen}`
        : `fails as expected: ${obs.seen}`;
  return {
    id: a.id,
    kind: a.kind,
    title: assertionTitle(a),
    expect: a.expect,
    observed,
    status,
    reason,
    hint: status === 'fail' ? a.hint : undefined,
    durationMs: Math.round(performance.now() - t0),
    evidence: obs.evidence,
    ...(obs.cells ? { cells: obs.cells } : {}),
    points: a.points,
  };
}
