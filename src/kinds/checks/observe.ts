// Evidence from a command result, trimmed to what a report can carry.
import type { Evidence } from '../../report/events.ts';
import type { CommandResult } from '../../transport/executor.ts';

export function ev(r: CommandResult): Evidence {
  return {
    machine: r.machine,
    argv: r.argv,
    exitCode: r.exitCode,
    stdout: r.stdout.slice(0, 20000),
    stderr: r.stderr.slice(0, 4000) || undefined,
  };
}
