// An Executor bound to a run's abort signal: every command it runs stops when the run is interrupted (Ctrl-C
// during a long step over SSH or a guest console ends that step within a second instead of at its timeout).
import type { CommandResult, Executor, RunOptions, UploadResult } from './executor.ts';

export class SignalExecutor implements Executor {
  readonly machine: string;
  constructor(
    private readonly inner: Executor,
    private readonly signal: AbortSignal,
  ) {
    this.machine = inner.machine;
  }
  run(argv: string[], opts: RunOptions = {}): Promise<CommandResult> {
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.signal]) : this.signal;
    return this.inner.run(argv, { ...opts, signal });
  }
  upload(local: string, remote: string, opts?: { mode?: number }): Promise<UploadResult> {
    this.signal.throwIfAborted();
    return this.inner.upload(local, remote, opts);
  }
  download(remote: string, local: string): Promise<void> {
    this.signal.throwIfAborted();
    return this.inner.download(remote, local);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
