// A QMP client for the host's own monitor of a VM machine: a unix socket in the machine's folder (the namespace's
// TCP monitor belongs to the switch agent, and QMP serves one client at a time). One command at a time; events are
// skipped.
import { connect, type Socket } from 'node:net';
import { HostError } from '../../../errors.ts';

/** Unix socket paths are at most 107 bytes: a deeper home folder has no host monitor (and no snapshots). */
export const MAX_SOCKET_PATH = 107;

export class Qmp {
  private buf = '';
  private waiting?: { resolve: (v: unknown) => void; reject: (e: Error) => void };
  private closed?: Error;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    const gone = (e?: Error) => {
      this.closed = e ?? new HostError('QEMU closed its monitor');
      this.waiting?.reject(this.closed);
      this.waiting = undefined;
    };
    sock.on('error', gone);
    sock.on('close', () => gone());
  }

  /** Connects and leaves the capabilities negotiation, retrying while QEMU has not made its socket yet. */
  static async connect(path: string, deadlineMs = 10000): Promise<Qmp> {
    const until = Date.now() + deadlineMs;
    for (;;) {
      try {
        const sock = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        const q = new Qmp(sock);
        await q.next(); // the greeting
        await q.execute('qmp_capabilities');
        return q;
      } catch (e) {
        if (Date.now() > until) throw new HostError(`cannot reach QEMU's monitor ${path}: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private onData(d: string): void {
    this.buf += d;
    for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      const msg = JSON.parse(line) as { event?: string; return?: unknown; error?: { desc: string }; QMP?: unknown };
      if (msg.event) continue;
      const w = this.waiting;
      this.waiting = undefined;
      if (!w) continue;
      if (msg.error) w.reject(new HostError(`QEMU: ${msg.error.desc}`));
      else w.resolve(msg.return ?? msg.QMP);
    }
  }

  private next(): Promise<unknown> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  async execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    const answer = this.next();
    this.sock.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
    return (await answer) as T;
  }

  close(): void {
    this.sock.destroy();
  }
}
