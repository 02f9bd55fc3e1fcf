// When commands ran, so that virtlab's own time (wall time minus time inside commands and waits) can be measured.
import type { CommandClock } from '../transport/executor.ts';

export class IntervalClock implements CommandClock {
  private readonly spans: [number, number][] = [];
  span(start: number, end: number): void {
    this.spans.push([start, end]);
  }
  /** Total time covered by at least one recorded interval (overlapping commands count once). */
  covered(extra: [number, number][] = []): number {
    const all = [...this.spans, ...extra].sort((a, b) => a[0] - b[0]);
    let total = 0;
    let cur: [number, number] | undefined;
    for (const [s, e] of all) {
      if (!cur || s > cur[1]) {
        if (cur) total += cur[1] - cur[0];
        cur = [s, e];
      } else cur[1] = Math.max(cur[1], e);
    }
    if (cur) total += cur[1] - cur[0];
    return total;
  }
}
