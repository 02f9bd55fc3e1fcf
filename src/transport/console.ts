// An Executor over a guest's serial console, for guests the network cannot reach (macvtap isolates a guest from its
// own hypervisor). Input goes to the console's pty on the hypervisor; output is read back from the console log,
// between markers that the echoed command line itself cannot contain. One command at a time per console.
import { randomBytes } from 'node:crypto';
import { HostError } from '../errors.ts';
import { CommandError, type CommandResult, type Executor, type RunOptions, type UploadResult } from './executor.ts';
import { commandLine } from './quote.ts';

export interface ConsoleTarget {
  guest: string;
  /** the hypervisor that runs the guest */
  host: Executor;
  /** the serial console log on the hypervisor (virt-install --serial pty,log.file=...) */
  logPath: string;
  login?: { user: string; password: string };
  /** for a guest QEMU runs without libvirt: QEMU's pid file (its pty is found from the process's open files) */
  qemuPidFile?: string;
}

/** What a command's result says when the guest never answered on its serial console. */
export const NO_CONSOLE_ANSWER = 'no answer on the serial console';

/** The machine name a guest's console commands report, and the guest back from it. */
export const consoleMachine = (guest: string) => `${guest} (console)`;
export const consoleGuest = (machine: string) => /^(.+) \(console\)$/.exec(machine)?.[1];

export class ConsoleExecutor implements Executor {
  readonly machine: string;
  private queue: Promise<unknown> = Promise.resolve();
  private pty?: Promise<string>;
  constructor(private readonly t: ConsoleTarget) {
    this.machine = consoleMachine(t.guest);
  }

  run(argv: string[], opts: RunOptions = {}): Promise<CommandResult> {
    const job = this.queue.then(() => this.runNow(argv, opts));
    this.queue = job.catch(() => {});
    return job;
  }

  /** Finds the console's pty and starts holding it open (QEMU needs about a second to notice); call it early. */
  attach(): Promise<string> {
    this.pty ??= this.findPty();
    this.pty.catch(() => {
      this.pty = undefined;
    });
    return this.pty;
  }

  private async findPty(): Promise<string> {
    // without libvirt, the pty is the one whose master QEMU holds open (fdinfo of /dev/ptmx names its index)
    const r = this.t.qemuPidFile
      ? await this.t.host.run(
          [
            'sh',
            '-c',
            // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion on the hypervisor
            'pid=$(cat "$0"); for fd in /proc/$pid/fd/*; do [ "$(readlink "$fd")" = /dev/ptmx ] && sed -n "s#^tty-index:[[:space:]]*#/dev/pts/#p" "/proc/$pid/fdinfo/${fd##*/}"; done; exit 0',
            this.t.qemuPidFile,
          ],
          { check: false },
        )
      : await this.t.host.run(['virsh', 'ttyconsole', this.t.guest], { check: false });
    const pty = r.stdout.trim().split('\n')[0]!;
    if (r.exitCode !== 0 || !/^\/dev\/pts\/\d+$/.test(pty))
      throw new HostError(
        `guest ${this.t.guest} has no serial console pty on ${this.t.host.machine}: ${r.stderr.trim() || pty}`,
      );
    // QEMU reads a pty only while its other end is open (it re-checks about once a second): keep one reader on it
    // for the guest's lifetime, which also drains what the guest prints (the log file keeps everything)
    const pidfile = `/run/virtlab-console-${this.t.guest}.pid`;
    const held = await this.t.host.run(['sh', '-c', 'test -s "$0" && kill -0 "$(cat "$0")"', pidfile], {
      check: false,
    });
    if (held.exitCode !== 0) {
      await this.t.host.run([
        'sh',
        '-c',
        'setsid sh -c \'echo $$ > "$1"; exec cat "$0" > /dev/null\' "$0" "$1" < /dev/null > /dev/null 2>&1 &',
        pty,
        pidfile,
      ]);
      await new Promise((res) => setTimeout(res, 1200));
    }
    return pty;
  }

  private async logSize(): Promise<number> {
    const r = await this.t.host.run(['stat', '-c', '%s', this.t.logPath], { check: false });
    return r.exitCode === 0 ? Number(r.stdout.trim()) : 0;
  }

  private async logFrom(offset: number): Promise<string> {
    const r = await this.t.host.run(['tail', '-c', `+${offset + 1}`, this.t.logPath], { check: false });
    return r.stdout.replace(/\r/g, '');
  }

  private async send(text: string): Promise<void> {
    await this.t.host.run(['sh', '-c', 'cat > "$0"', await this.attach()], { input: text });
  }

  /** Waits until the console output after offset matches re; returns the text or undefined on timeout. */
  private async waitFor(
    offset: number,
    re: RegExp,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    for (;;) {
      const text = await this.logFrom(offset);
      if (re.test(text)) return text;
      if (Date.now() > deadline || signal?.aborted) return undefined;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async ensureLoggedIn(deadline: number): Promise<void> {
    if (!this.t.login) return;
    const offset = await this.logSize();
    await this.send('\n');
    const seen = await this.waitFor(offset, /(login:\s*$|[$#]\s*$)/m, deadline);
    if (!seen || !/login:\s*$/m.test(seen)) return;
    await this.send(`${this.t.login.user}\n`);
    if (!(await this.waitFor(offset, /[Pp]assword:\s*$/m, deadline)))
      throw new HostError(`${this.t.guest}: no password prompt on the console`);
    await this.send(`${this.t.login.password}\n`);
    if (!(await this.waitFor(offset, /[$#]\s*$/m, deadline)))
      throw new HostError(`${this.t.guest}: console login as ${this.t.login.user} failed`);
  }

  private async runNow(argv: string[], opts: RunOptions): Promise<CommandResult> {
    const started = Date.now();
    const deadline = started + (opts.timeoutMs ?? 30000);
    await this.ensureLoggedIn(deadline);
    const id = randomBytes(4).toString('hex');
    const offset = await this.logSize();
    // "${M}END" is what the terminal echoes; only the shell's output spells VLEND
    await this.send(
      `M=VL; echo "\${M}BEGIN-${id}"; ${commandLine(argv, { env: opts.env })}; echo "\${M}END-${id}-$?"\n`,
    );
    const text = await this.waitFor(offset, new RegExp(`VLEND-${id}-(\\d+)`), deadline, opts.signal);
    const durationMs = Date.now() - started;
    if (!text) {
      const result = {
        machine: this.machine,
        argv,
        exitCode: 124,
        stdout: '',
        stderr: NO_CONSOLE_ANSWER,
        durationMs,
        timedOut: true,
      };
      if (opts.check !== false) throw new CommandError(result);
      return result;
    }
    const begin = text.indexOf(`VLBEGIN-${id}\n`);
    const end = new RegExp(`VLEND-${id}-(\\d+)`).exec(text)!;
    const stdout = begin >= 0 ? text.slice(begin + `VLBEGIN-${id}\n`.length, end.index) : '';
    const result: CommandResult = {
      machine: this.machine,
      argv,
      exitCode: Number(end[1]),
      stdout,
      stderr: '',
      durationMs,
    };
    if (result.exitCode !== 0 && opts.check !== false) throw new CommandError(result);
    return result;
  }

  upload(): Promise<UploadResult> {
    return Promise.reject(new HostError(`cannot upload files to ${this.t.guest} over its serial console`));
  }

  download(): Promise<void> {
    return Promise.reject(new HostError(`cannot download files from ${this.t.guest} over its serial console`));
  }

  async close(): Promise<void> {}
}
