// Error classes carry the process exit code and a hint saying what to do; anything else is a bug.

// internal: an exception nothing caught, a bug (sysexits' EX_SOFTWARE)
export const EXIT = { ok: 0, assertion: 1, usage: 2, host: 3, interrupted: 4, internal: 70 } as const;

export class VirtlabError extends Error {
  readonly exitCode: number;
  readonly hint?: string;
  constructor(message: string, exitCode: number, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = hint;
  }
}

/** Bad command line. */
export class UsageError extends VirtlabError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.usage, hint);
  }
}

export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  message: string;
  hint?: string;
  /** a warning does not stop anything: the same outcome, said aloud (default: an error) */
  severity?: 'error' | 'warning';
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.severity === 'warning' ? 'warning: ' : ''}${d.message}${d.hint ? `\n  hint: ${d.hint}` : ''}`;
}

/** One or more problems in lab / machines / playbook files. */
export class DefinitionError extends VirtlabError {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'), EXIT.usage);
    this.diagnostics = diagnostics;
  }
}

/** The host or a machine is not fit to run the lab (missing binary, not root, daemon down...). */
export class HostError extends VirtlabError {
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, EXIT.host, hint, options);
  }
}

/** A machine died while the lab ran (a VM's kernel panicked, its QEMU exited): the run stops at once. */
export class MachineDiedError extends HostError {
  readonly machine: string;
  constructor(machine: string, why: string) {
    super(
      `machine ${machine} died during the run: ${why}`,
      'its console is kept in the report folder (consoles/); nested KVM under TCG occasionally panics a VM: run the lab again',
    );
    this.machine = machine;
  }
}

/**
 * A machine's SSH connection went away in the middle of a command (the command's channel closed without an exit
 * status): the machine stopped answering (ssh2's keepalives give up after ~15 s) or its sshd went.
 */
export class ConnectionLostError extends HostError {
  readonly machine: string;
  constructor(machine: string, command: string) {
    super(
      `${machine} stopped answering over ssh while running \`${command}\` (the connection was lost)`,
      'a VM machine under TCG with nested KVM stalls now and then: run the lab again',
    );
    this.machine = machine;
  }
}

/** A bug in virtlab (an impossible state, a kind missing from its table): exit 70 with the trace. */
export class InternalError extends VirtlabError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.internal, 'a bug in virtlab: please report it with this message', options);
  }
}

export class InterruptedError extends VirtlabError {
  constructor(message = 'interrupted') {
    super(message, EXIT.interrupted);
  }
}

/** Wraps a cause with what we were doing: `define network "x" on kvm-01: <cause>`. */
export function wrap(what: string, cause: unknown): VirtlabError {
  const msg = cause instanceof Error ? cause.message : String(cause);
  if (cause instanceof VirtlabError) return new VirtlabError(`${what}: ${msg}`, cause.exitCode, cause.hint, { cause });
  return new HostError(`${what}: ${msg}`, undefined, { cause });
}

/** The one place that decides a process exit code from an error: anything that is not ours is a bug. */
export function exitCodeFor(error: unknown): number {
  return error instanceof VirtlabError ? error.exitCode : EXIT.internal;
}
