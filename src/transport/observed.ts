// An Executor decorator that reports every command it runs (machine, argv, exit code, duration, output): the one
// place `--verbose` and the `command` events of `--json` come from.

import { CommandError, type CommandResult, type Executor, type RunOptions, type UploadResult } from './executor.ts';
import { displayLine } from './quote.ts';

export interface ObservedCommand {
  machine: string;
  argv: string[];
  /** the argv quoted for a paste into a shell */
  line: string;
  exitCode: number;
  durationMs: number;
  /** stdout then stderr, cut to a few KiB */
  output?: string;
}

const MAX_OUTPUT = 4096;

function lineOf(argv: string[]): string {
  try {
    return displayLine(argv);
  } catch {
    return argv.join(' ');
  }
}

function outputOf(r: Pick<CommandResult, 'stdout' | 'stderr'>): string | undefined {
  const all =
    `${r.stdout}${r.stderr ? `${r.stdout && !r.stdout.endsWith('\n') ? '\n' : ''}${r.stderr}` : ''}`.trimEnd();
  if (!all) return undefined;
  return all.length > MAX_OUTPUT
    ? `${all.slice(0, MAX_OUTPUT)}\n... (${all.length - MAX_OUTPUT} more characters)`
    : all;
}

export class ObservedExecutor implements Executor {
  readonly machine: string;
  constructor(
    private readonly inner: Executor,
    private readonly report: (c: ObservedCommand) => void,
  ) {
    this.machine = inner.machine;
  }

  async run(argv: string[], opts: RunOptions = {}): Promise<CommandResult> {
    const t0 = performance.now();
    try {
      const r = await this.inner.run(argv, opts);
      const output = outputOf(r);
      this.report({
        machine: this.machine,
        argv,
        line: lineOf(argv),
        exitCode: r.exitCode,
        durationMs: r.durationMs,
        output,
      });
      return r;
    } catch (e) {
      const r = e instanceof CommandError ? e.result : undefined;
      this.report({
        machine: this.machine,
        argv,
        line: lineOf(argv),
        exitCode: r?.exitCode ?? -1,
        durationMs: r?.durationMs ?? Math.round(performance.now() - t0),
        output: r ? outputOf(r) : (e as Error).message,
      });
      throw e;
    }
  }

  async upload(local: string, remote: string, opts?: { mode?: number }): Promise<UploadResult> {
    const t0 = performance.now();
    const r = await this.inner.upload(local, remote, opts);
    const what = r.skipped
      ? 'unchanged, not sent'
      : `${r.bytes} bytes${r.sha256 ? `, sha256 ${r.sha256.slice(0, 12)}` : ', copied on the host'}`;
    this.report({
      machine: this.machine,
      argv: ['(upload)', local, remote],
      line: `upload ${local} -> ${remote}`,
      exitCode: 0,
      durationMs: Math.round(performance.now() - t0),
      output: what,
    });
    return r;
  }

  download(remote: string, local: string): Promise<void> {
    return this.inner.download(remote, local);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
