// Fakes for unit tests of pure logic: an Executor that replays output captured from the real tools, and a Provider
// that keeps its machines in memory. End-to-end tests never use these.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Home } from '../../src/host/home.ts';
import type { MachineRecord, StateStore } from '../../src/host/state.ts';
import { makeSession, type Session } from '../../src/kinds/session.ts';
import type { Lab } from '../../src/lab/model.ts';
import type {
  MachineDescription,
  Problem,
  Provider,
  ProviderContext,
  SshAccess,
  TeardownContext,
} from '../../src/providers/port.ts';
import type { RunEvent } from '../../src/report/events.ts';
import {
  CommandError,
  type CommandResult,
  type Executor,
  type RunOptions,
  type UploadResult,
} from '../../src/transport/executor.ts';
import type { MachineHandle, UnderlayHandle } from '../../src/transport/handles.ts';

/** Output captured from a real run (test/fixtures/captured/). */
export const captured = (f: string) => readFileSync(`test/fixtures/captured/${f}`, 'utf8');

export interface Reply {
  /** matches the argv joined with spaces */
  when: RegExp;
  exitCode?: number;
  stdout?: string;
  stderr?: string;
  /** runs when the command does (e.g. abort a signal mid-step) */
  effect?: () => void;
  /** while this says so, never answers (a stalled machine): ends only when the command's signal aborts */
  hang?: () => boolean;
}

export class FakeExecutor implements Executor {
  readonly calls: string[][] = [];
  readonly uploads: { local: string; remote: string }[] = [];
  constructor(
    readonly machine: string,
    private readonly replies: Reply[] = [],
  ) {}

  async run(argv: string[], opts: RunOptions = {}): Promise<CommandResult> {
    this.calls.push(argv);
    if (opts.signal?.aborted) {
      const r = { machine: this.machine, argv, exitCode: 255, stdout: '', stderr: 'aborted', durationMs: 0 };
      if (opts.check !== false) throw new CommandError(r);
      return r;
    }
    const reply = this.replies.find((x) => x.when.test(argv.join(' ')));
    reply?.effect?.();
    if (reply?.hang?.()) {
      await new Promise<void>((res) => opts.signal?.addEventListener('abort', () => res(), { once: true }));
      const r = { machine: this.machine, argv, exitCode: 255, stdout: '', stderr: 'aborted', durationMs: 0 };
      if (opts.check !== false) throw new CommandError(r);
      return r;
    }
    const result = {
      machine: this.machine,
      argv,
      exitCode: reply ? (reply.exitCode ?? 0) : 127,
      stdout: reply?.stdout ?? '',
      stderr: reply ? (reply.stderr ?? '') : `fake: no reply for \`${argv.join(' ')}\``,
      durationMs: 1,
    };
    if (result.exitCode !== 0 && opts.check !== false) throw new CommandError(result);
    return result;
  }

  async upload(local: string, remote: string): Promise<UploadResult> {
    this.uploads.push({ local, remote });
    return { skipped: false, bytes: 1, sha256: '0' };
  }

  async download(): Promise<void> {}
  async close(): Promise<void> {}
}

export function fakeUnderlay(name: string, leases: string, ports: UnderlayHandle['ports'] = []): UnderlayHandle {
  return { name, leases: async () => leases, exec: new FakeExecutor(`network ${name}`), dhcpAlive: () => true, ports };
}

/** A session over fake machines: the kinds run exactly as in a real run, against replayed output. */
export function fakeSession(
  lab: Lab,
  machines: Record<string, FakeExecutor>,
  underlays: UnderlayHandle[] = [],
  events: RunEvent[] = [],
): Session {
  const handles: MachineHandle[] = Object.entries(machines).map(([name, exec]) => ({
    name,
    role: lab.machines.find((m) => m.name === name)?.role ?? 'peer',
    exec,
    address: '100.127.0.2',
    guestVirt: 'qemu',
    kind: 'namespace',
  }));
  const store = {
    record: (r: unknown) => r,
    update: (fn: (s: unknown) => void) => fn({}),
    state: { runDir: tmpdir() },
  } as unknown as StateStore;
  return makeSession(lab, store, { machines: handles, underlays }, (e) => events.push(e), new AbortController().signal);
}

export function tmpHome(): Home {
  const root = mkdtempSync(join(tmpdir(), 'virtlab-unit-'));
  return {
    root,
    state: join(root, 'state'),
    runs: join(root, 'runs'),
    cache: join(root, 'cache'),
    images: join(root, 'cache', 'images'),
  };
}

/** A provider whose machines are fakes; it records what it "creates" in the state like a real one. */
export class FakeProvider implements Provider {
  readonly name = 'fake';
  readonly removed: string[] = [];
  readonly alive = new Set<string>();
  casualties?: Provider['casualties'];
  constructor(
    readonly execs: Record<string, FakeExecutor>,
    readonly o: {
      problems?: Problem[];
      upFails?: unknown;
      leak?: string;
      upEffect?: () => void;
      /** machines that are VMs (their handles say so) */
      vms?: string[];
    } = {},
  ) {}

  async preflight(): Promise<Problem[]> {
    return this.o.problems ?? [];
  }

  async up(lab: Lab, ctx: ProviderContext): Promise<void> {
    ctx.store.update((s) => {
      s.machines = lab.machines.map(
        (m): MachineRecord => ({
          name: m.name,
          role: m.role,
          ram: m.ram,
          vcpu: m.vcpu,
          address: '127.0.0.1',
          hostKey: '',
        }),
      );
    });
    for (const m of lab.machines) {
      ctx.store.record({ kind: 'netns', name: `fake-${m.name}`, owner: m.name });
      this.alive.add(`fake-${m.name}`);
    }
    this.o.upEffect?.();
    if (this.o.upFails) throw this.o.upFails;
  }

  attach(store: StateStore): { machines: MachineHandle[]; underlays: UnderlayHandle[] } {
    const machines = store.state.machines.map((m) => ({
      name: m.name,
      role: m.role,
      exec: this.execs[m.name]!,
      address: m.address,
      ...(this.o.vms?.includes(m.name) ? { vm: true } : {}),
    }));
    return { machines, underlays: [] };
  }

  async down(store: StateStore, o: TeardownContext): Promise<string[]> {
    for (const r of [...store.state.resources].reverse()) {
      if (r.kind !== 'netns') continue;
      if (r.name !== this.o.leak) this.alive.delete(r.name);
      this.removed.push(r.name);
      o.emit({ type: 'removed', what: `namespace ${r.name}`, ok: true });
    }
    return [];
  }

  async leaks(): Promise<string[]> {
    return [...this.alive].map((n) => `namespace ${n}`);
  }

  access(store: StateStore, m: MachineRecord): SshAccess {
    return { host: m.address, port: 22, user: 'root', keyFile: store.state.keyFile };
  }

  sharesHostKernel(): boolean {
    return false;
  }

  describe(): MachineDescription {
    return { kind: 'fake' };
  }
}
