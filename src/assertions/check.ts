// The shape of a check: it observes, says what it saw in one line, and keeps the commands that decided it.
import type { Assertion } from '../lab/model.ts';
import type { Evidence, GridCell } from '../report/events.ts';
import type { CommandResult } from '../transport/executor.ts';
import type { Session } from '../runner/session.ts';

export interface Observation {
  ok: boolean;
  /** what was seen, one line */
  seen: string;
  evidence: Evidence[];
  /** the check could not be made (e.g. the guest has no address): fails whatever was expected */
  inconclusive?: boolean;
  cells?: GridCell[];
}

export type Check<A extends Assertion = Assertion> = (a: A, s: Session) => Promise<Observation>;

export function ev(r: CommandResult): Evidence {
  return {
    machine: r.machine,
    argv: r.argv,
    exitCode: r.exitCode,
    stdout: r.stdout.slice(0, 20000),
    stderr: r.stderr.slice(0, 4000) || undefined,
  };
}
