// What stops a run from outside: SIGINT/SIGTERM, and a bug (an exception nothing caught). Either aborts the run's
// signal, so the runner tears down what it created instead of the process dying with machines still up.
import { setMaxListeners } from 'node:events';
import { EXIT, InternalError, InterruptedError } from '../errors.ts';

export interface Interrupts {
  signal: AbortSignal;
  /** The exit code the stop decides (interrupted or internal error), or undefined when nothing stopped the run. */
  exitCode: () => number | undefined;
  dispose: () => void;
}

/** A second Ctrl-C only says we are still cleaning up. */
export function interrupts(): Interrupts {
  const ac = new AbortController();
  // every wait of every guest listens to it: many guests at once are not a leak
  setMaxListeners(1000, ac.signal);
  let count = 0;
  let internal = false;
  const stop = (why: string, reason: Error) => {
    count++;
    if (count === 1) {
      process.stderr.write(`\nvirtlab: ${why}: stopping; removing everything this run created...\n`);
      ac.abort(reason);
    } else if (!internal)
      process.stderr.write('virtlab: still removing what was created (waits and retries are skipped); please wait\n');
  };
  const int = () => stop('SIGINT', new InterruptedError('SIGINT'));
  const term = () => stop('SIGTERM', new InterruptedError('SIGTERM'));
  const bug = (e: unknown) => {
    // the first one is reported; a second (often a consequence of the first) must not repeat or loop
    if (internal) return;
    internal = true;
    process.stderr.write(
      `\nvirtlab: internal error (a bug; please report it with this trace):\n${(e as Error)?.stack ?? String(e)}\n`,
    );
    stop('internal error', e instanceof Error ? e : new InternalError(String(e)));
  };

  process.on('SIGINT', int);
  process.on('SIGTERM', term);
  process.on('uncaughtException', bug);
  process.on('unhandledRejection', bug);
  return {
    signal: ac.signal,
    exitCode: () => (internal ? EXIT.internal : ac.signal.aborted ? EXIT.interrupted : undefined),
    dispose: () => {
      process.off('SIGINT', int);
      process.off('SIGTERM', term);
      process.off('uncaughtException', bug);
      process.off('unhandledRejection', bug);
    },
  };
}
