// reachability: a grid of pings, each ordered pair with its own expectation (expected failures included).
import { type AssertionBase, type Endpoint, type Expect, endpointName, endpointNode } from '../../lab/model.ts';
import type { Evidence, GridCell } from '../../report/events.ts';
import { defineCheck, ref } from '../define.ts';
import { FAMILY_SCHEMA, type Family, literalFamily, pingOnce } from './ping.ts';

export interface ReachabilityAssertion extends AssertionBase {
  kind: 'reachability';
  cells: { from: string; to: Endpoint; expect: Expect }[];
  /** 6: every cell over IPv6 (a grid per family: two assertions) */
  family: Family;
}

interface Raw {
  expect: Record<string, Record<string, Expect>>;
  family?: Family;
}

export const reachability = defineCheck<ReachabilityAssertion, Raw>({
  kind: 'reachability',
  summary: 'a grid of pings between machines and guests, each pair expected to pass or fail',
  schema: {
    required: ['expect'],
    properties: {
      expect: {
        type: 'object',
        description: 'from -> to -> pass|fail; each cell is a ping; omitted pairs are not tested.',
        minProperties: 1,
        propertyNames: ref('node'),
        additionalProperties: {
          type: 'object',
          minProperties: 1,
          propertyNames: ref('endpoint'),
          additionalProperties: { enum: ['pass', 'fail'] },
        },
      },
      family: FAMILY_SCHEMA,
    },
  },
  resolve(raw, ctx, at, base) {
    const cells: ReachabilityAssertion['cells'] = [];
    for (const [from, row] of Object.entries(raw.expect)) {
      if (!ctx.checkNode([...at, 'expect', from], from)) continue;
      for (const [to, exp] of Object.entries(row)) {
        const t = ctx.endpoint([...at, 'expect', from, to], to);
        if (t) cells.push({ from, to: t, expect: exp });
      }
    }
    // each cell carries its own expectation: the grid as a whole must hold
    const family = raw.family ?? 4;
    const wrong = cells.find((c) => (literalFamily(c.to) ?? family) !== family);
    if (wrong) {
      ctx.err([...at, 'family'], `a grid over IPv${family} cannot ping ${endpointName(wrong.to)}: one grid per family`);
      return undefined;
    }
    return { ...base, expect: 'pass', kind: 'reachability', cells, family };
  },
  title: (a) =>
    `reachability grid${a.family === 6 ? ' over IPv6' : ''} (${a.cells.length} pairs: ${[...new Set(a.cells.map((c) => c.from))].join(', ')} -> ...)`,
  nodes: (a) => a.cells.flatMap((c) => [c.from, ...endpointNode(c.to)]),
  // every ordered pair is a ping; pings from different nodes run at once (a console runs one at a time)
  async check(a, s) {
    const evidence: Evidence[] = [];
    const cells: GridCell[] = await Promise.all(
      a.cells.map(async (c) => {
        const o = await pingOnce(s, c.from, c.to, { family: a.family ?? 4, patient: c.expect === 'pass' });
        evidence.push(...o.evidence);
        const observed = o.ok ? 'pass' : 'fail';
        const status = !o.inconclusive && observed === c.expect ? 'pass' : 'fail';
        const reason = o.inconclusive ? `cannot check: ${o.seen}` : o.seen;
        return { from: c.from, to: endpointName(c.to), expect: c.expect, observed, status, reason };
      }),
    );
    const wrong = cells.filter((c) => c.status === 'fail');
    const seen = wrong.length
      ? `${cells.length - wrong.length}/${cells.length} pairs as expected; ${wrong.map((c) => `${c.from} -> ${c.to}: expected ${c.expect}, ${c.reason}`).join('; ')}`
      : `${cells.length}/${cells.length} pairs as expected`;
    return { ok: wrong.length === 0, seen, evidence, cells };
  },
});
