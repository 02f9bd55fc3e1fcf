// The Executor port: the only way code touches a machine (argv in, result out).
import { EXIT, VirtlabError } from '../errors.ts';

export interface RunOptions {
  timeoutMs?: number;
  input?: string | Buffer;
  env?: Record<string, string>;
  sudo?: boolean;
  /** throw CommandError on a non-zero exit (default true) */
  check?: boolean;
  signal?: AbortSignal;
  /** each line of stderr as it comes (progress of long host commands; the local executor calls it) */
  onStderrLine?: (line: string) => void;
}

export interface CommandResult {
  machine: string;
  argv: string[];
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut?: boolean;
}

export interface UploadResult {
  skipped: boolean;
  bytes: number;
  /** the content's hash, when the transfer computed one (a host-side copy into a fresh file does not) */
  sha256?: string;
}

export interface Executor {
  readonly machine: string;
  run(argv: string[], opts?: RunOptions): Promise<CommandResult>;
  /** Copies a file; skipped when the remote file already has the same SHA-256. */
  upload(local: string, remote: string, opts?: { mode?: number }): Promise<UploadResult>;
  download(remote: string, local: string): Promise<void>;
  close(): Promise<void>;
}

/** A command that exited non-zero: the same shape as a result, plus the machine and argv in the message. */
export class CommandError extends VirtlabError {
  readonly result: CommandResult;
  constructor(result: CommandResult) {
    const why = result.timedOut ? `timed out after ${result.durationMs} ms` : `exit ${result.exitCode}`;
    const err = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-3).join(' | ');
    super(`${result.machine}: \`${result.argv.join(' ')}\` failed (${why})${err ? `: ${err}` : ''}`, EXIT.host);
    this.result = result;
  }
}

/** Records when commands ran (performance.now() times), for the benchmark's overhead figure. */
export interface CommandClock {
  span(start: number, end: number): void;
}
