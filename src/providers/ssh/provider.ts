// The ssh provider: existing hosts from an inventory. Nothing is created but what the lab's steps create, and
// teardown removes exactly that (recorded in the state first), each only after checking it is still what the run
// made: guests and libvirt networks by their UUID, files by the places virtlab writes, undo operations by type.
import { existsSync, readFileSync } from 'node:fs';
import { HostError, UsageError, wrap } from '../../errors.ts';
import type { Home } from '../../host/home.ts';
import { allDone } from '../../host/parallel.ts';
import type { MachineRecord, Resource, StateStore } from '../../host/state.ts';
import { isLibvirtName, isVirtlabPath, undoArgv } from '../../hypervisor/commands.ts';
import type { Lab } from '../../lab/model.ts';
import type { CommandClock, Executor } from '../../transport/executor.ts';
import type { MachineHandle, UnderlayHandle } from '../../transport/handles.ts';
import { SshExecutor } from '../../transport/ssh.ts';
import type { MachineDescription, Problem, Provider, ProviderContext, SshAccess, TeardownContext } from '../port.ts';
import { type Inventory, type InventoryHost, loadInventory } from './inventory.ts';

export class SshProvider implements Provider {
  readonly name = 'ssh';
  constructor(private readonly inventoryFile?: string) {}

  private inventory(file = this.inventoryFile): Inventory {
    if (!file) {
      throw new UsageError(
        'the ssh provider needs an inventory of existing hosts',
        'virtlab run <lab> --provider ssh --inventory hosts.yml (see docs/regression.md)',
      );
    }
    return loadInventory(file);
  }

  private executor(h: InventoryHost, clock?: CommandClock): SshExecutor {
    const hostKey = h.hostKey?.split(/\s+/)[1] ?? undefined;
    const target = { machine: h.name, host: h.host, port: h.port, user: h.user, privateKey: readFileSync(h.key) };
    return new SshExecutor({ ...target, hostKey, fingerprint: h.fingerprint, sudo: h.sudo }, clock);
  }

  async preflight(lab: Lab, _home: Home): Promise<Problem[]> {
    const inv = this.inventory();
    const problems: Problem[] = [];
    await Promise.all(lab.machines.map(async (m) => problems.push(...(await this.hostProblems(inv, m.name, m.role)))));
    for (const n of lab.networks) {
      const file = inv.leases.get(n.name);
      if (file && !existsSync(file)) problems.push({ what: `network ${n.name}: lease file ${file} not found` });
    }
    return problems;
  }

  private async hostProblems(inv: Inventory, name: string, role: string): Promise<Problem[]> {
    const h = inv.hosts.get(name);
    if (!h)
      return [
        {
          what: `machine ${name} is not in the inventory ${inv.file}`,
          hint: 'add it under machines: (host, port, user, key, host-key)',
        },
      ];
    if (!existsSync(h.key)) return [{ what: `${name}: key file ${h.key} not found` }];
    const x = this.executor(h);
    try {
      const need = role === 'hypervisor' ? ['virsh', 'virt-install', 'qemu-img', 'ip', 'ping'] : ['ip', 'ping'];
      const script = 'for b in "$@"; do command -v "$b" >/dev/null || echo "$b"; done';
      const r = await x.run(['sh', '-c', script, 'sh', ...need], { timeoutMs: 20000 });
      return r.stdout.trim() ? [{ what: `${name}: missing programs: ${r.stdout.trim().split('\n').join(', ')}` }] : [];
    } catch (e) {
      return [{ what: `${name}: ${(e as Error).message}` }];
    } finally {
      await x.close();
    }
  }

  async up(lab: Lab, ctx: ProviderContext): Promise<void> {
    const inv = this.inventory();
    ctx.store.update((s) => {
      s.machines = lab.machines.map((m): MachineRecord => {
        const h = inv.hosts.get(m.name)!;
        return {
          name: m.name,
          role: m.role,
          ram: m.ram,
          vcpu: m.vcpu,
          address: h.host,
          hostKey: h.hostKey?.split(/\s+/)[1] ?? '',
        };
      });
    });
    await allDone(
      lab.machines.map(async (m) => {
        const t0 = performance.now();
        const h = inv.hosts.get(m.name)!;
        ctx.emit({ type: 'step-start', stage: 'up', id: `up-${m.name}`, title: `existing host ${m.name} (${h.host})` });
        const x = this.executor(h, ctx.clock);
        try {
          await x.connect({ deadlineMs: 15000, signal: ctx.signal });
          await x.run(['true']);
        } catch (e) {
          throw wrap(`reach ${m.name}`, e);
        } finally {
          await x.close();
        }
        const durationMs = Math.round(performance.now() - t0);
        ctx.emit({ type: 'step-end', stage: 'up', id: `up-${m.name}`, status: 'ok', durationMs });
      }),
    );
  }

  private inventoryOf(store: StateStore): Inventory {
    return this.inventory(store.state.providerOptions.inventory ?? this.inventoryFile);
  }

  attach(store: StateStore, clock?: CommandClock): { machines: MachineHandle[]; underlays: UnderlayHandle[] } {
    const inv = this.inventoryOf(store);
    const machines = store.state.machines.map((m) => ({
      name: m.name,
      role: m.role,
      exec: this.executor(inv.hosts.get(m.name)!, clock),
      address: m.address,
    }));
    const nothing = (what: string) => () =>
      Promise.reject(new HostError(`network ${what} is a real network: virtlab cannot run commands on it`));
    const underlays = [...inv.leases].map(([name, file]) => ({
      name,
      ports: [],
      dhcpAlive: () => true,
      leases: async () => (existsSync(file) ? readFileSync(file, 'utf8') : ''),
      exec: {
        machine: name,
        run: nothing(name),
        upload: nothing(name),
        download: nothing(name),
        close: async () => {},
      },
    }));
    return { machines, underlays };
  }

  /** Undoes what the run did on each host, newest first; "already gone" is success; anything unverified stays. */
  async down(store: StateStore, o: TeardownContext): Promise<string[]> {
    const { machines } = this.attach(store, o.clock);
    const byName = new Map(machines.map((m) => [m.name, m.exec]));
    const refused: string[] = [];
    for (const r of [...store.state.resources].reverse()) {
      const x = byName.get(r.owner);
      if (!x) continue;
      const plan = await removal(r, x);
      if (!plan) continue;
      const what = `${describe(r)} on ${r.owner}`;
      if ('refused' in plan) {
        refused.push(`${what}: ${plan.refused}`);
        o.emit({ type: 'removed', what, ok: false, detail: `not removed: ${plan.refused}` });
        continue;
      }
      let ok = true;
      for (const argv of plan.argvs)
        ok &&= (await x.run(argv, { check: false, timeoutMs: 60000 }).catch(() => undefined)) !== undefined;
      o.emit({ type: 'removed', what, ok });
    }
    await Promise.all(machines.map((m) => m.exec.close()));
    return refused;
  }

  async leaks(store: StateStore): Promise<string[]> {
    const { machines } = this.attach(store);
    const byName = new Map(machines.map((m) => [m.name, m.exec]));
    const found: string[] = [];
    for (const r of store.state.resources) {
      const x = byName.get(r.owner);
      const probe = leakProbe(r);
      if (!x || !probe) continue;
      const res = await x.run(probe, { check: false }).catch(() => undefined);
      if (res?.exitCode === 0 && (await stillOurs(r, x))) found.push(`${describe(r)} on ${r.owner}`);
    }
    await Promise.all(machines.map((m) => m.exec.close()));
    return found;
  }

  access(store: StateStore, m: MachineRecord): SshAccess {
    const h = this.inventoryOf(store).hosts.get(m.name);
    if (!h) throw new HostError(`machine ${m.name} is no longer in the inventory ${this.inventoryOf(store).file}`);
    return { host: h.host, port: h.port, user: h.user, keyFile: h.key, hostKey: h.hostKey, sudo: h.sudo };
  }

  sharesHostKernel(): boolean {
    return false;
  }

  describe(_m: MachineRecord): MachineDescription {
    return { kind: 'existing host' };
  }
}

function leakProbe(r: Resource): string[] | undefined {
  if (r.kind === 'domain' && isLibvirtName(r.name)) return ['virsh', 'dominfo', r.name];
  if (r.kind === 'libvirt-network' && isLibvirtName(r.name)) return ['virsh', 'net-info', r.name];
  if (r.kind === 'remote-file' && isVirtlabPath(r.path)) return ['test', '-e', r.path];
  return undefined;
}

/** A libvirt object is this run's when it still has the UUID recorded when the run created it. */
async function stillOurs(r: Resource, x: Executor): Promise<boolean> {
  if (r.kind !== 'domain' && r.kind !== 'libvirt-network') return true;
  const argv = r.kind === 'domain' ? ['virsh', 'domuuid', r.name] : ['virsh', 'net-uuid', r.name];
  const uuid = (await x.run(argv, { check: false }).catch(() => undefined))?.stdout.trim();
  return !!r.uuid && uuid === r.uuid;
}

async function removal(r: Resource, x: Executor): Promise<{ argvs: string[][] } | { refused: string } | undefined> {
  switch (r.kind) {
    case 'domain':
    case 'libvirt-network': {
      if (!isLibvirtName(r.name)) return { refused: `"${r.name}" is not a libvirt name virtlab gives` };
      const exists = await x.run(r.kind === 'domain' ? ['virsh', 'dominfo', r.name] : ['virsh', 'net-info', r.name], {
        check: false,
      });
      if (exists.exitCode !== 0) return undefined;
      if (!(await stillOurs(r, x)))
        return { refused: r.uuid ? 'its UUID is not the one this run created' : 'the run never recorded its UUID' };
      return r.kind === 'domain'
        ? {
            argvs: [
              ['virsh', 'destroy', r.name],
              ['virsh', 'undefine', r.name],
            ],
          }
        : {
            argvs: [
              ['virsh', 'net-destroy', r.name],
              ['virsh', 'net-undefine', r.name],
            ],
          };
    }
    case 'remote-file':
      return isVirtlabPath(r.path)
        ? { argvs: [['rm', '-f', '--', r.path]] }
        : { refused: `${r.path} is not a place virtlab writes` };
    case 'undo': {
      const u = undoArgv(r.op);
      return 'argv' in u ? { argvs: [u.argv] } : u;
    }
    default:
      return undefined;
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
