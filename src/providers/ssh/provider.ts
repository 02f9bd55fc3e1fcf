// The ssh provider: existing hosts from an inventory. Nothing is created but what the lab's steps create, and
// teardown removes exactly that (recorded in the state first): guests, libvirt networks, files, undo commands.
import { existsSync, readFileSync } from 'node:fs';
import { HostError, UsageError, wrap } from '../../errors.ts';
import type { Lab } from '../../lab/model.ts';
import type { Emit } from '../../report/events.ts';
import type { Home } from '../../runner/home.ts';
import type { MachineState, Resource, StateStore } from '../../runner/state.ts';
import type { CommandClock } from '../../transport/executor.ts';
import { SshExecutor } from '../../transport/ssh.ts';
import type { MachineHandle, Problem, Provider, ProviderContext, UnderlayHandle } from '../provider.ts';
import { loadInventory, type Inventory, type InventoryHost } from './inventory.ts';
import { allDone } from '../../runner/parallel.ts';

export class SshProvider implements Provider {
  readonly name = 'ssh';
  constructor(private readonly inventoryFile?: string) {}

  private inventory(file = this.inventoryFile): Inventory {
    if (!file)
      throw new UsageError(
        'the ssh provider needs an inventory of existing hosts',
        'virtlab run <lab> --provider ssh --inventory hosts.yml (see docs/regression.md)',
      );
    return loadInventory(file);
  }

  private executor(h: InventoryHost, clock?: CommandClock): SshExecutor {
    return new SshExecutor(
      {
        machine: h.name,
        host: h.host,
        port: h.port,
        user: h.user,
        privateKey: readFileSync(h.key),
        hostKey: h.hostKey?.split(/\s+/)[1] ?? undefined,
        fingerprint: h.fingerprint,
        sudo: h.sudo,
      },
      clock,
    );
  }

  async preflight(lab: Lab, _home: Home): Promise<Problem[]> {
    const inv = this.inventory();
    const problems: Problem[] = [];
    await Promise.all(
      lab.machines.map(async (m) => {
        const h = inv.hosts.get(m.name);
        if (!h)
          return problems.push({
            what: `machine ${m.name} is not in the inventory ${inv.file}`,
            hint: `add it under machines: (host, port, user, key, host-key)`,
          });
        if (!existsSync(h.key)) return problems.push({ what: `${m.name}: key file ${h.key} not found` });
        const x = this.executor(h);
        try {
          const need = m.role === 'hypervisor' ? ['virsh', 'virt-install', 'qemu-img', 'ip', 'ping'] : ['ip', 'ping'];
          const r = await x.run(
            ['sh', '-c', 'for b in "$@"; do command -v "$b" >/dev/null || echo "$b"; done', 'sh', ...need],
            { timeoutMs: 20000 },
          );
          if (r.stdout.trim())
            problems.push({ what: `${m.name}: missing programs: ${r.stdout.trim().split('\n').join(', ')}` });
        } catch (e) {
          problems.push({ what: `${m.name}: ${(e as Error).message}` });
        } finally {
          await x.close();
        }
      }),
    );
    for (const n of lab.networks)
      if (inv.leases.has(n.name) && !existsSync(inv.leases.get(n.name)!))
        problems.push({ what: `network ${n.name}: lease file ${inv.leases.get(n.name)} not found` });
    return problems;
  }

  async up(lab: Lab, ctx: ProviderContext): Promise<void> {
    const inv = this.inventory();
    ctx.store.update((s) => {
      s.inventory = inv.file;
      s.machines = lab.machines.map((m): MachineState => {
        const h = inv.hosts.get(m.name)!;
        return {
          name: m.name,
          role: m.role,
          ns: '',
          dir: '',
          mgmtHost: h.host,
          mgmtLocal: '',
          mgmtLink: '',
          hostKey: h.hostKey?.split(/\s+/)[1] ?? '',
          ram: m.ram,
          vcpu: m.vcpu,
        };
      });
      s.networks = [];
    });
    await allDone(
      lab.machines.map(async (m) => {
        const t0 = performance.now();
        ctx.emit({
          type: 'step-start',
          stage: 'up',
          id: `up-${m.name}`,
          title: `existing host ${m.name} (${inv.hosts.get(m.name)!.host})`,
        });
        const x = this.executor(inv.hosts.get(m.name)!, ctx.clock);
        try {
          await x.connect({ deadlineMs: 15000, signal: ctx.signal });
          await x.run(['true']);
        } catch (e) {
          throw wrap(`reach ${m.name}`, e);
        } finally {
          await x.close();
        }
        ctx.emit({
          type: 'step-end',
          stage: 'up',
          id: `up-${m.name}`,
          status: 'ok',
          durationMs: Math.round(performance.now() - t0),
        });
      }),
    );
  }

  attach(store: StateStore, clock?: CommandClock): { machines: MachineHandle[]; underlays: UnderlayHandle[] } {
    const inv = this.inventory(store.state.inventory);
    return {
      machines: store.state.machines.map((m) => ({
        name: m.name,
        role: m.role,
        exec: this.executor(inv.hosts.get(m.name)!, clock),
        address: m.mgmtHost,
      })),
      underlays: [...inv.leases].map(([name, file]) => ({
        name,
        ports: [],
        dhcpAlive: () => true,
        leases: async () => (existsSync(file) ? readFileSync(file, 'utf8') : ''),
        exec: {
          machine: name,
          run: () =>
            Promise.reject(new HostError(`network ${name} is a real network: virtlab cannot run commands on it`)),
          upload: () => Promise.reject(new HostError('no')),
          download: () => Promise.reject(new HostError('no')),
          close: async () => {},
        },
      })),
    };
  }

  /** Undoes what the run did on each host, newest first; "already gone" is success. */
  async down(store: StateStore, emit: Emit, clock?: CommandClock): Promise<void> {
    const { machines } = this.attach(store, clock);
    const byName = new Map(machines.map((m) => [m.name, m.exec]));
    for (const r of [...store.state.resources].reverse()) {
      const x = byName.get(r.owner);
      if (!x) continue;
      const argvs = undoOf(r);
      let ok = true;
      for (const argv of argvs) {
        const res = await x.run(argv, { check: false, timeoutMs: 60000 }).catch(() => undefined);
        ok &&= res !== undefined;
      }
      if (argvs.length) emit({ type: 'removed', what: `${describe(r)} on ${r.owner}`, ok });
    }
    await Promise.all(machines.map((m) => m.exec.close()));
  }

  async leaks(store: StateStore): Promise<string[]> {
    const { machines } = this.attach(store);
    const byName = new Map(machines.map((m) => [m.name, m.exec]));
    const found: string[] = [];
    for (const r of store.state.resources) {
      const x = byName.get(r.owner);
      const probe =
        r.kind === 'domain'
          ? ['virsh', 'dominfo', r.name]
          : r.kind === 'libvirt-network'
            ? ['virsh', 'net-info', r.name]
            : r.kind === 'remote-file'
              ? ['test', '-e', r.path]
              : undefined;
      if (!x || !probe) continue;
      const res = await x.run(probe, { check: false }).catch(() => undefined);
      if (res?.exitCode === 0) found.push(`${describe(r)} on ${r.owner}`);
    }
    await Promise.all(machines.map((m) => m.exec.close()));
    return found;
  }
}

function undoOf(r: Resource): string[][] {
  switch (r.kind) {
    case 'domain':
      return [
        ['virsh', 'destroy', r.name],
        ['virsh', 'undefine', r.name],
      ];
    case 'libvirt-network':
      return [
        ['virsh', 'net-destroy', r.name],
        ['virsh', 'net-undefine', r.name],
      ];
    case 'remote-file':
      return [['rm', '-f', '--', r.path]];
    case 'undo':
      return [r.argv];
    default:
      return [];
  }
}

function describe(r: Resource): string {
  switch (r.kind) {
    case 'domain':
      return `guest ${r.name}`;
    case 'libvirt-network':
      return `libvirt network ${r.name}`;
    case 'remote-file':
      return `file ${r.path}`;
    case 'undo':
      return r.what;
    default:
      return r.kind;
  }
}
