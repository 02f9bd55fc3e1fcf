import { endpointName, type Assertion } from '../lab/model.ts';
import type { Evidence, GridCell } from '../report/events.ts';
import type { Check } from './check.ts';
import { ping } from './ping.ts';

/** Every ordered pair of the grid is a ping; pings from different nodes run at once (a console runs one at a time). */
export const reachability: Check<Extract<Assertion, { kind: 'reachability' }>> = async (a, s) => {
  const evidence: Evidence[] = [];
  const cells: GridCell[] = await Promise.all(
    a.cells.map(async (c) => {
      const o = await ping(
        {
          kind: 'ping',
          id: `${a.id}:${c.from}->${endpointName(c.to)}`,
          expect: c.expect,
          points: 0,
          from: c.from,
          to: c.to,
          count: 1,
        },
        s,
      );
      evidence.push(...o.evidence);
      const observed = o.ok ? 'pass' : 'fail';
      const status = !o.inconclusive && observed === c.expect ? 'pass' : 'fail';
      return {
        from: c.from,
        to: endpointName(c.to),
        expect: c.expect,
        observed,
        status,
        reason: o.inconclusive ? `cannot check: ${o.seen}` : o.seen,
      };
    }),
  );
  const wrong = cells.filter((c) => c.status === 'fail');
  const seen = wrong.length
    ? `${cells.length - wrong.length}/${cells.length} pairs as expected; ${wrong.map((c) => `${c.from} -> ${c.to}: expected ${c.expect}, ${c.reason}`).join('; ')}`
    : `${cells.length}/${cells.length} pairs as expected`;
  return { ok: wrong.length === 0, seen, evidence, cells };
};
