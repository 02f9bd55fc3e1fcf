// Host commands without any shell: argv goes straight to execve.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  type CommandClock,
  CommandError,
  type CommandResult,
  type Executor,
  type RunOptions,
  type UploadResult,
} from './executor.ts';

export class LocalExecutor implements Executor {
  readonly machine: string;
  private readonly clock?: CommandClock;
  constructor(machine = 'host', clock?: CommandClock) {
    this.machine = machine;
    this.clock = clock;
  }

  run(argv: string[], opts: RunOptions = {}): Promise<CommandResult> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), {
        env: opts.env ? { ...process.env, ...opts.env } : process.env,
        stdio: ['pipe', 'pipe', 'pipe'],
        signal: opts.signal,
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      const timer = opts.timeoutMs
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs)
        : undefined;
      child.stdout.on('data', (b: Buffer) => out.push(b));
      let partial = '';
      child.stderr.on('data', (b: Buffer) => {
        err.push(b);
        if (!opts.onStderrLine) return;
        const lines = (partial + b.toString()).split('\n');
        partial = lines.pop()!;
        for (const l of lines) opts.onStderrLine(l);
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        const result = this.result(argv, 127, '', e.message, started, timedOut);
        if (opts.check === false) resolve(result);
        else reject(new CommandError(result));
      });
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        const result = this.result(
          argv,
          code ?? (sig ? 128 + 9 : 1),
          Buffer.concat(out).toString(),
          Buffer.concat(err).toString(),
          started,
          timedOut,
        );
        if (result.exitCode !== 0 && opts.check !== false) reject(new CommandError(result));
        else resolve(result);
      });
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input ?? '');
    });
  }

  private result(
    argv: string[],
    exitCode: number,
    stdout: string,
    stderr: string,
    started: number,
    timedOut: boolean,
  ): CommandResult {
    const end = performance.now();
    const durationMs = Math.round(end - started);
    this.clock?.span(started, end);
    return {
      machine: this.machine,
      argv,
      exitCode: timedOut ? 124 : exitCode,
      stdout,
      stderr,
      durationMs,
      ...(timedOut ? { timedOut } : {}),
    };
  }

  async upload(local: string, remote: string, opts: { mode?: number } = {}): Promise<UploadResult> {
    const [from, to] = await Promise.all([stat(local), stat(remote).catch(() => undefined)]);
    // only a file of the same size can be the same file: read and compare then (a fresh machine's folder has none,
    // and hashing a 20 MiB image costs ~30 ms of CPU in the run's critical path)
    if (to?.size === from.size) {
      const sha256 = createHash('sha256')
        .update(await readFile(local))
        .digest('hex');
      if (
        createHash('sha256')
          .update(await readFile(remote))
          .digest('hex') === sha256
      )
        return { skipped: true, bytes: from.size, sha256 };
    }
    await mkdir(dirname(remote), { recursive: true });
    await copyFile(local, remote);
    if (opts.mode !== undefined) await chmod(remote, opts.mode);
    return { skipped: false, bytes: from.size };
  }

  async download(remote: string, local: string): Promise<void> {
    await mkdir(dirname(local), { recursive: true });
    await copyFile(remote, local);
  }

  async close(): Promise<void> {}
}
