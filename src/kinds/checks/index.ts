// The one explicit list of assertion kinds, and running an assertion: observed vs expected, with the lab's hint.
import type { AssertionBase } from '../../lab/model.ts';
import type { AssertionResult } from '../../report/events.ts';
import { type CheckDef, kindTable, type Observation } from '../define.ts';
import type { Session } from '../session.ts';
import { arp } from './arp.ts';
import { command } from './command.ts';
import { guestIp } from './guest-ip.ts';
import { lease } from './lease.ts';
import { link } from './link.ts';
import { macMatch } from './mac-match.ts';
import { neighbour } from './neighbour.ts';
import { ping } from './ping.ts';
import { reachability } from './reachability.ts';
import { seenSource } from './seen-source.ts';
import { throughput } from './throughput.ts';

export const CHECK_KINDS: readonly CheckDef[] = [
  lease,
  ping,
  arp,
  neighbour,
  macMatch,
  link,
  guestIp,
  reachability,
  seenSource,
  command,
  throughput,
];

export const checkKind = kindTable('assertion', CHECK_KINDS);

export function assertionTitle(a: AssertionBase): string {
  return `${checkKind(a.kind).title(a)}${a.expect === 'fail' ? ' (expected to fail)' : ''}`;
}

/** Every machine or guest an assertion involves. */
export function assertionNodes(a: AssertionBase): string[] {
  return checkKind(a.kind).nodes(a);
}

export async function runAssertion(a: AssertionBase, s: Session): Promise<AssertionResult> {
  const t0 = performance.now();
  let obs: Observation;
  try {
    obs = await checkKind(a.kind).check(a, s);
  } catch (e) {
    obs = { ok: false, seen: (e as Error).message, evidence: [], inconclusive: true };
  }
  const observed = obs.ok ? 'pass' : 'fail';
  // an expected failure must fail for its stated reason: failing for another (a broken lab) is not a pass
  const wrongReason =
    a.expect === 'fail' && !obs.ok && !obs.inconclusive && a.because && !new RegExp(a.because).test(obs.seen);
  const status = obs.inconclusive || wrongReason ? 'fail' : observed === a.expect ? 'pass' : 'fail';
  const reason = obs.inconclusive
    ? `cannot check: ${obs.seen}`
    : a.expect === 'pass'
      ? obs.seen
      : obs.ok
        ? `expected this to fail, but it worked: ${obs.seen}`
        : wrongReason
          ? `fails, but not for the expected reason: expected /${a.because}/, saw: ${obs.seen}`
          : `fails as expected: ${obs.seen}`;
  const edge = checkKind(a.kind).edge?.(a);
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
    ...(edge ? { edge } : {}),
    ...(obs.figures ? { figures: obs.figures } : {}),
    points: a.points,
  };
}

/**
 * Runs a phase's assertions: the ones that only look run together; the ones that measure (throughput) after them,
 * one at a time, so nothing else loads the machines while they measure. Each result is reported as it comes.
 */
export async function runAssertions(
  list: AssertionBase[],
  s: Session,
  report: (r: AssertionResult) => void,
): Promise<AssertionResult[]> {
  const measuring = list.filter((a) => checkKind(a.kind).measures);
  const results = await Promise.all(
    list
      .filter((a) => !measuring.includes(a))
      .map(async (a) => {
        const r = await runAssertion(a, s);
        report(r);
        return r;
      }),
  );
  for (const a of measuring) {
    const r = await runAssertion(a, s);
    report(r);
    results.push(r);
  }
  return results;
}
