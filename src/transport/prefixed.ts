// An Executor that runs every command under a prefix, e.g. `ip netns exec NS` for a namespace on this host.
import type { CommandResult, Executor, RunOptions, UploadResult } from './executor.ts';

export class PrefixedExecutor implements Executor {
  constructor(
    readonly machine: string,
    private readonly inner: Executor,
    private readonly prefix: string[],
  ) {}
  async run(argv: string[], opts?: RunOptions): Promise<CommandResult> {
    const r = await this.inner.run([...this.prefix, ...argv], opts);
    return { ...r, machine: this.machine, argv };
  }
  upload(local: string, remote: string, opts?: { mode?: number }): Promise<UploadResult> {
    return this.inner.upload(local, remote, opts);
  }
  download(remote: string, local: string): Promise<void> {
    return this.inner.download(remote, local);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
