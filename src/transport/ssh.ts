// Executor over one persistent ssh2 connection per machine: pinned host key, bounded channels, TCP no-delay.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { type Socket, connect as tcpConnect } from 'node:net';
import { dirname } from 'node:path';
import pRetry, { AbortError } from 'p-retry';
import type { Client, ClientChannel, SFTPWrapper } from 'ssh2';
import { ConnectionLostError, HostError } from '../errors.ts';
import {
  type CommandClock,
  CommandError,
  type CommandResult,
  type Executor,
  type RunOptions,
  type UploadResult,
} from './executor.ts';
import { commandLine } from './quote.ts';

// ssh2 (about 40 ms to load with its dependencies) is loaded when a machine first accepts a TCP connection, not with
// the command line: plan, validate or list never load it. It is a CommonJS package: required (the bundle is a script,
// where import() has no loader), a turn after it is asked.
const requireHere = createRequire(import.meta.url);
let ssh2: Promise<typeof import('ssh2')> | undefined;

/** Starts loading ssh2 (once); the first connection waits for it. */
export function preloadSsh(): Promise<typeof import('ssh2')> {
  ssh2 ??= new Promise((resolve, reject) =>
    setImmediate(() => {
      try {
        resolve(requireHere('ssh2') as typeof import('ssh2'));
      } catch (e) {
        reject(e);
      }
    }),
  );
  return ssh2;
}

export interface SshTarget {
  machine: string;
  host: string;
  port?: number;
  user?: string;
  privateKey: Buffer | string;
  /** The host's public key blob (base64 as in an OpenSSH .pub file); connections to any other key are refused. */
  hostKey?: string;
  /** Or its SHA256 fingerprint ("SHA256:..."), as ssh-keygen -l prints it. */
  fingerprint?: string;
  /** run every command through `sudo -n` */
  sudo?: boolean;
  /**
   * How long one connection attempt may take from TCP to an authenticated session (default 15 s): a VM under TCG on
   * a loaded host can take seconds over the key exchange, and hanging up to start again could repeat forever.
   */
  handshakeTimeoutMs?: number;
}

/** Counts concurrent channels: OpenSSH allows 10 sessions per connection by default. */
class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly max: number) {}
  async acquire(): Promise<() => void> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    return () => {
      this.active--;
      this.waiting.shift()?.();
    };
  }
}

export function keyFingerprint(base64Blob: string): string {
  return `SHA256:${createHash('sha256').update(Buffer.from(base64Blob, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

export class SshExecutor implements Executor {
  readonly machine: string;
  private client?: Client;
  private connecting?: Promise<Client>;
  private sftpP?: Promise<SFTPWrapper>;
  private readonly channels = new Semaphore(8);
  /** each client's socket: ssh2's own destroy() does nothing once the socket is half-closed */
  private readonly sockets = new WeakMap<Client, Socket>();
  constructor(
    private readonly target: SshTarget,
    private readonly clock?: CommandClock,
  ) {
    this.machine = target.machine;
  }

  /** Connects, retrying while the machine's sshd comes up, until deadlineMs. */
  async connect(opts: { deadlineMs?: number; signal?: AbortSignal } = {}): Promise<Client> {
    if (this.client) return this.client;
    // waiting for the machine's sshd and the handshake is the transport's time, like a command's
    const started = performance.now();
    this.connecting ??= pRetry(() => this.connectOnce(opts.signal), {
      retries: 1000,
      // a namespace machine's sshd listens ~50 ms after its init starts: refused attempts cost little, and
      // the first ones come often (10, 12, 14... ms apart, up to 300 ms for a booting VM)
      minTimeout: 10,
      maxTimeout: 300,
      factor: 1.2,
      maxRetryTime: opts.deadlineMs ?? 15000,
      signal: opts.signal,
    }).then(
      (c) => {
        this.clock?.span(started, performance.now());
        this.client = c;
        c.on('close', () => {
          if (this.client === c) {
            this.client = undefined;
            this.connecting = undefined;
            this.sftpP = undefined;
          }
        });
        return c;
      },
      (e) => {
        this.connecting = undefined;
        throw new HostError(
          `cannot connect to ${this.machine} over ssh (${this.target.host}:${this.target.port ?? 22}): ${(e as Error).message}`,
          `is the machine up? try: virtlab status`,
        );
      },
    );
    return this.connecting;
  }

  /**
   * One attempt. The run's abort ends it at once: p-retry waits for an attempt to settle before it gives up, and an
   * attempt that settled after the abort (seen: a VM killed while its reseed connection was being made) left a
   * client nobody closed, whose socket to the dead machine kept the process alive for good.
   */
  private connectOnce(signal?: AbortSignal): Promise<Client> {
    return new Promise((resolve, reject) => {
      const sock: Socket = tcpConnect({ host: this.target.host, port: this.target.port ?? 22 });
      sock.setNoDelay(true);
      let c: Client | undefined;
      let hostKeyMismatch = false;
      let seen = '';
      let settled = false;
      const onAbort = () => fail(new AbortError(`${this.machine}: the connection was given up`));
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        c?.end();
        sock.destroy();
        reject(hostKeyMismatch ? new AbortError(e) : e);
      };
      if (signal?.aborted) queueMicrotask(onAbort);
      else signal?.addEventListener('abort', onAbort, { once: true });
      sock.on('error', fail);
      const handshake = (Ssh: typeof Client) => {
        if (settled) return;
        const client = new Ssh();
        c = client;
        this.sockets.set(client, sock);
        // ssh2 can emit several errors for one failure (a handshake timeout, then "Connection lost before handshake"
        // when the socket goes) and more after `ready` (the machine died); the listeners stay for the client's whole
        // life, because an 'error' without one would end the process. After `ready`, 'close' follows and forgets it.
        client.once('ready', () => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          resolve(client);
        });
        client.on('error', (e) =>
          fail(
            hostKeyMismatch
              ? new HostError(
                  `host key of ${this.machine} (${this.target.host}) is ${seen}, not the pinned ${this.target.fingerprint ?? keyFingerprint(this.target.hostKey ?? '')}; if the host really changed, pin ${seen}`,
                )
              : e,
          ),
        );
        client.connect({
          sock,
          username: this.target.user ?? 'root',
          privateKey: this.target.privateKey,
          // the key only: ssh2 would first ask for "none", a round trip sshd always refuses (~9 ms a connection)
          authHandler: ['publickey'],
          readyTimeout: this.target.handshakeTimeoutMs ?? 15000,
          keepaliveInterval: 5000,
          algorithms: { kex: ['curve25519-sha256', 'curve25519-sha256@libssh.org', 'ecdh-sha2-nistp256'] },
          hostVerifier: (key: Buffer) => {
            seen = keyFingerprint(key.toString('base64'));
            let ok: boolean;
            if (this.target.hostKey) {
              const expected = Buffer.from(this.target.hostKey, 'base64');
              ok = key.length === expected.length && timingSafeEqual(key, expected);
            } else ok = !!this.target.fingerprint && this.target.fingerprint === seen;
            if (!ok) hostKeyMismatch = true;
            return ok;
          },
        });
      };
      // ssh2 is loaded once a machine first accepts a connection, not while the machines' daemons start: its ~40 ms
      // of loading held back the next machine's init (measured: a hypervisor's libvirtd started ~40 ms later)
      sock.once('connect', () => preloadSsh().then((m) => handshake(m.Client), fail));
    });
  }

  async run(argv: string[], opts: RunOptions = {}): Promise<CommandResult> {
    const client = await this.connect({ signal: opts.signal });
    const line = commandLine(argv, { env: opts.env, sudo: opts.sudo ?? this.target.sudo });
    const release = await this.channels.acquire();
    const started = performance.now();
    try {
      const result = await this.execOnce(client, line, argv, opts, started);
      this.clock?.span(started, performance.now());
      if (result.exitCode !== 0 && opts.check !== false) throw new CommandError(result);
      return result;
    } finally {
      release();
    }
  }

  /**
   * One command on an open connection. A timeout or an abort ends it at once: the remote process gets KILL and the
   * channel is closed, without waiting for the machine to answer (a five-minute step stops within a second).
   */
  private execOnce(
    client: Client,
    line: string,
    argv: string[],
    opts: RunOptions,
    started: number,
  ): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      const result = (exitCode: number, stdout: string, stderr: string, timedOut = false): CommandResult => ({
        machine: this.machine,
        argv,
        exitCode,
        stdout,
        stderr,
        durationMs: Math.round(performance.now() - started),
        ...(timedOut ? { timedOut } : {}),
      });
      if (opts.signal?.aborted) return resolve(result(130, '', 'interrupted before it started'));
      client.exec(line, (err: Error | undefined, stream: ClientChannel) => {
        if (err) return reject(new HostError(`${this.machine}: cannot start \`${argv.join(' ')}\`: ${err.message}`));
        const out: Buffer[] = [];
        const errs: Buffer[] = [];
        let code: number | undefined;
        let why: 'timeout' | 'abort' | undefined;
        let settled = false;
        const settle = () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          const stderr = Buffer.concat(errs).toString() + (why === 'abort' ? 'interrupted' : '');
          // sshd always ends an exec channel with an exit status or signal: none means the connection went (the
          // machine stopped answering), not that the command failed
          if (code === undefined && why === undefined)
            return reject(new ConnectionLostError(this.machine, argv.join(' ')));
          const exitCode = why === 'timeout' ? 124 : why === 'abort' ? 130 : (code ?? 255);
          resolve(result(exitCode, Buffer.concat(out).toString(), stderr, why === 'timeout'));
        };
        const stop = (reason: 'timeout' | 'abort') => {
          why = reason;
          try {
            stream.signal('KILL');
          } catch {
            /* the channel is already gone */
          }
          stream.close();
          settle();
        };
        const timer = opts.timeoutMs ? setTimeout(() => stop('timeout'), opts.timeoutMs) : undefined;
        const onAbort = () => stop('abort');
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        stream.on('data', (b: Buffer) => out.push(b));
        stream.stderr.on('data', (b: Buffer) => errs.push(b));
        stream.on('exit', (c: number | null, sig?: string) => {
          code = c ?? (sig ? 128 + 9 : 255);
        });
        stream.on('close', settle);
        if (opts.input !== undefined) stream.end(opts.input);
        else stream.end();
      });
    });
  }

  private sftp(): Promise<SFTPWrapper> {
    this.sftpP ??= this.connect().then((c) => new Promise((res, rej) => c.sftp((e, s) => (e ? rej(e) : res(s)))));
    return this.sftpP;
  }

  async upload(local: string, remote: string, opts: { mode?: number } = {}): Promise<UploadResult> {
    const sha256 = await fileSha256(local);
    const bytes = statSync(local).size;
    const have = await this.run(['sha256sum', remote], { check: false });
    if (have.exitCode === 0 && have.stdout.split(' ')[0] === sha256) return { skipped: true, bytes, sha256 };
    await this.run(['mkdir', '-p', dirname(remote)]);
    const tmp = `${remote}.virtlab-part`;
    const sftp = await this.sftp();
    const started = performance.now();
    await new Promise<void>((res, rej) =>
      sftp.fastPut(local, tmp, { mode: opts.mode ?? 0o644 }, (e) => (e ? rej(e) : res())),
    );
    this.clock?.span(started, performance.now());
    await this.run(['mv', '-f', tmp, remote]);
    const check = await this.run(['sha256sum', remote]);
    if (check.stdout.split(' ')[0] !== sha256)
      throw new HostError(`${this.machine}: upload of ${local} to ${remote} arrived corrupted (checksum mismatch)`);
    return { skipped: false, bytes, sha256 };
  }

  async download(remote: string, local: string): Promise<void> {
    await mkdir(dirname(local), { recursive: true });
    const sftp = await this.sftp();
    await new Promise<void>((res, rej) => sftp.fastGet(remote, local, (e) => (e ? rej(e) : res())));
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.connecting = undefined;
    this.sftpP = undefined;
    // wait for the close, but never keep the process alive for the fallback timer; a peer that never answers the
    // close (a VM killed under it) would leave the socket half-closed for good, keeping the process alive: destroyed
    if (c)
      await new Promise<void>((res) => {
        c.once('close', () => res());
        c.end();
        setTimeout(() => {
          this.sockets.get(c)?.destroy();
          res();
        }, 500).unref();
      });
  }
}

export function fileSha256(path: string): Promise<string> {
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('end', () => res(h.digest('hex')))
      .on('error', rej);
  });
}
