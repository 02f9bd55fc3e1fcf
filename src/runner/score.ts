// Course mode grading: points of the checks that passed, out of all.
import type { AssertionResult } from '../report/events.ts';

export function score(results: AssertionResult[]): { points: number; max: number } {
  return results.reduce(
    (acc, r) => ({ points: acc.points + (r.status === 'pass' ? (r.points ?? 1) : 0), max: acc.max + (r.points ?? 1) }),
    { points: 0, max: 0 },
  );
}
