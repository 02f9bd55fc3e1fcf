// An Executor for a machine that shares the control host's disk (a namespace machine): a file uploaded into one of
// the machine's own folders (a bind mount of a host folder) is copied on the host instead of over SFTP; everything
// else goes to the machine as before. The copy never leaves the machine's folder on the host (no symlink is followed
// out of it).
import { existsSync, lstatSync, mkdirSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { HostError } from '../errors.ts';
import type { CommandResult, Executor, RunOptions, UploadResult } from './executor.ts';
import type { LocalExecutor } from './local.ts';

export class SharedFsExecutor implements Executor {
  readonly machine: string;
  constructor(
    private readonly inner: Executor,
    private readonly host: LocalExecutor,
    /** the host path behind a path of the machine's own folders, or undefined (then SFTP) */
    private readonly hostPath: (path: string) => { path: string; root: string } | undefined,
  ) {
    this.machine = inner.machine;
  }
  run(argv: string[], opts?: RunOptions): Promise<CommandResult> {
    return this.inner.run(argv, opts);
  }
  async upload(local: string, remote: string, opts?: { mode?: number }): Promise<UploadResult> {
    const to = this.hostPath(remote);
    if (!to) return this.inner.upload(local, remote, opts);
    // checked before any folder is made (a missing folder under a symlink would be made outside): the deepest
    // folder that exists on the way must really be inside the machine's folder, unless nothing of that is made yet
    let existing = dirname(to.path);
    while (!existsSync(existing)) existing = dirname(existing);
    const under = (p: string, root: string) => p === root || p.startsWith(`${root}/`);
    const escapes = under(existing, to.root) && !under(realpathSync(existing), realpathSync(to.root));
    const link = (() => {
      try {
        return lstatSync(to.path).isSymbolicLink();
      } catch {
        return false;
      }
    })();
    if (link || escapes)
      throw new HostError(`${this.machine}: ${remote} leads out of the machine's own folder; not written`);
    mkdirSync(dirname(to.path), { recursive: true });
    return this.host.upload(local, to.path, opts);
  }
  download(remote: string, local: string): Promise<void> {
    return this.inner.download(remote, local);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
