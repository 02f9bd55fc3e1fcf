// The netns provider: each machine is a network namespace with private mount/UTS/PID namespaces, its own sshd
// and (hypervisors) its own libvirtd; each underlay network is a bridge in its own namespace with dnsmasq.
// A machine can instead be a QEMU VM running inside its namespace (vm/: the vm provider makes every hypervisor one,
// `provider: vm` in machines.yml any machine); the namespaces, links and teardown stay the same.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { wrap } from '../../errors.ts';
import type { Home } from '../../host/home.ts';
import { withHostLock } from '../../host/lock.ts';
import { allDone } from '../../host/parallel.ts';
import { isAlive } from '../../host/proc.ts';
import { type MachineRecord, StateStore } from '../../host/state.ts';
import type { Lab, Machine } from '../../lab/model.ts';
import type { CommandClock } from '../../transport/executor.ts';
import type { MachineHandle, UnderlayHandle } from '../../transport/handles.ts';
import { LocalExecutor } from '../../transport/local.ts';
import { PrefixedExecutor } from '../../transport/prefixed.ts';
import { SharedFsExecutor } from '../../transport/shared-fs.ts';
import { preloadSsh, type SshExecutor } from '../../transport/ssh.ts';
import type { MachineDescription, Problem, Provider, ProviderContext, SshAccess, TeardownContext } from '../port.ts';
import { allocateMgmt, allocateSlots, SLOT_WIDTH, tapNumbers, usedHostAddresses } from './alloc.ts';
import { sshExecutor, sshKeygen, upMachine } from './bring-up.ts';
import { hostPathOf, layout, privatePaths } from './machine-files.ts';
import { LAN_BRIDGE, mgmtLink, nsMachine, nsNetwork } from './names.ts';
import { macFiltering, tail, upNetwork } from './network.ts';
import { hostProblems } from './preflight.ts';
import { isNsState, type NsMachine, type NsNetwork, nsData, nsMachines, setNsData } from './state.ts';
import { removeAll, scan } from './teardown.ts';
import { DEFAULT_KERNEL, type MachineImage, machineImage, SUITES, type Suite, suiteOf } from './vm/image.ts';
import { kernelFileProblem, kernelPath } from './vm/kernels.ts';
import { qemuStderrFile, vmState } from './vm/machine.ts';
import { vmProblems } from './vm/preflight.ts';
import { claimVmSlot } from './vm/slots.ts';

export interface NetnsOptions {
  /** which machines boot as QEMU VMs: those machines.yml marks `provider: vm` (netns), or every hypervisor too (vm) */
  vms?: 'requested' | 'hypervisors';
  /** the kernel VM hypervisors boot unless machines.yml names one */
  kernel?: string;
  /** the Debian suite VM machines are built from (bookworm, bookworm-backports, trixie) */
  image?: string;
  name?: string;
}

export class NetnsProvider implements Provider {
  readonly name: string;
  private readonly opts: NetnsOptions;
  private readonly suite: Suite;
  /** connections opened while bringing machines up, handed on to the session (saves a connection per machine) */
  private readonly live = new Map<string, SshExecutor>();

  constructor(o: NetnsOptions = {}) {
    // a kernel .deb or bzImage of one's own is taken by its absolute path (whether it is there: preflight)
    this.opts = o.kernel ? { ...o, kernel: kernelPath(o.kernel) } : o;
    this.name = o.name ?? 'netns';
    // an unknown suite is refused before anything is made
    this.suite = suiteOf(o.image);
  }

  /** Is this machine a QEMU VM under this provider? */
  isVm(m: Machine): boolean {
    const asked = this.opts.vms === 'hypervisors' && m.role === 'hypervisor';
    return m.provider === 'vm' || (m.provider !== 'netns' && asked);
  }

  async preflight(lab: Lab, _home: Home): Promise<Problem[]> {
    const vms = lab.machines.filter((m) => this.isVm(m));
    const local = lab.machines.filter((m) => !this.isVm(m));
    const kernels = [...new Set(vms.map((m) => m.kernel ?? this.opts.kernel ?? DEFAULT_KERNEL))];
    return [
      ...(await hostProblems(
        local.some((m) => m.role === 'hypervisor'),
        true,
      )),
      ...vmProblems(vms),
      ...kernels.flatMap((k) => kernelFileProblem(k) ?? []),
    ];
  }

  async up(lab: Lab, ctx: ProviderContext): Promise<void> {
    const { store, home, emit } = ctx;
    const local = new LocalExecutor('host', ctx.clock);
    const vmMachines = lab.machines.filter((m) => this.isVm(m));
    const image = vmMachines.length ? await this.image(vmMachines, ctx) : undefined;
    if (vmMachines.length) await claimVmSlot(home, store, emit, ctx.signal);
    await withHostLock(home, () => this.plan(lab, store, home, local, image));

    const { instance, runId, keyFile } = store.state;
    mkdirSync(join(store.state.runDir, 'keys'), { recursive: true, mode: 0o700 });
    await sshKeygen(local, `virtlab-${instance}-${runId}`, keyFile);
    const networks = nsData(store).networks;
    // the machines start while the networks come up: a machine's daemons need only its management link, and its LAN
    // links wait for the networks (upMachine)
    const networksUp = allDone(
      networks.map((n) =>
        upNetwork(lab, n, store, local, emit).catch((e) => Promise.reject(wrap(`bring up network ${n.name}`, e))),
      ),
    );
    networksUp.catch(() => {}); // awaited below, first
    const plumbed: Promise<boolean>[] = [];
    // ssh2 (~40 ms of loading on node's one thread) loads once every machine's init is started: loaded by the first
    // connection, it held back the next machine's init; loaded later, the first connection waited for it
    let starting = nsMachines(store).length;
    const started = () => {
      if (--starting === 0) preloadSsh().catch(() => {});
    };
    // the hypervisors' ssh handshakes first (their libvirtd is what the run waits for; two at once took ~47 ms each,
    // one ~24 ms): the other machines connect once every hypervisor has (or has failed)
    const gates = new Map(
      nsMachines(store)
        .filter((m) => m.role === 'hypervisor')
        .map((m) => {
          let open!: () => void;
          const opened = new Promise<void>((r) => (open = r));
          return [m.name, { opened, open }] as const;
        }),
    );
    const hypervisorsConnected = Promise.all([...gates.values()].map((g) => g.opened));
    const machines = nsMachines(store).map(async (m, i) => {
      const spec = lab.machines.find((x) => x.name === m.name)!;
      const gate = gates.get(m.name);
      // a hypervisor opens its gate; any other machine waits for every hypervisor's (none: it connects at once)
      const order = gate ? { connected: gate.open } : gates.size ? { connectAfter: hypervisorsConnected } : {};
      let done: (ok: boolean) => void = () => {};
      plumbed.push(new Promise<boolean>((res) => (done = res)));
      try {
        this.live.set(
          `${store.path}/${m.name}`,
          await upMachine(spec, m, i, ctx, local, { plumbed: () => done(true), started, networksUp, ...order }),
        );
      } catch (e) {
        throw wrap(`bring up machine ${m.name}`, e);
      } finally {
        done(false); // a machine that failed before its links existed: no agent is started early
      }
    });
    const filter = (n: NsNetwork) =>
      macFiltering(lab, n, store, local).catch((e) => Promise.reject(wrap(`make network ${n.name} mac-filtering`, e)));
    // a switch agent watches namespace machines' NICs once they exist (while their daemons start); a VM's NICs only
    // over its QMP, once its QEMU is up
    const vms = new Set(nsMachines(store).flatMap((m) => (m.data.vm ? [m.name] : [])));
    const vmPorts = (n: NsNetwork) => n.ports.some((p) => vms.has(p.machine));
    const filtered = networks.filter((n) => n.macFiltering);
    const early = Promise.all(plumbed).then(async (ok) => {
      if (ok.every(Boolean)) await allDone(filtered.filter((n) => !vmPorts(n)).map(filter));
    });
    await allDone<unknown>([networksUp, ...machines, early]);
    await allDone(filtered.filter(vmPorts).map(filter));
  }

  /** Names, addresses and slots for every machine and network, recorded under the host lock before anything exists. */
  private async plan(lab: Lab, store: StateStore, home: Home, local: LocalExecutor, image?: MachineImage) {
    const { instance, runId, runDir } = store.state;
    const others = StateStore.list(home).filter(
      (o) => o.path !== store.path && isNsState(o) && o.state.status !== 'down',
    );
    const addrs = usedHostAddresses((await local.run(['ip', '-j', '-4', 'addr'])).stdout);
    const pairs = allocateMgmt(lab.machines.length, others, addrs);
    // ifindex slots keep /dev/tapN apart for hypervisors that share this kernel (VMs have their own)
    const sharing = lab.machines.filter((m) => m.role === 'hypervisor' && !this.isVm(m));
    const slots = allocateSlots(sharing.length, others, tapNumbers());
    let h = 0;
    setNsData(store, (d) => {
      d.networks = lab.networks.map((n) => {
        const dir = join(runDir, 'networks', n.name);
        const ns = nsNetwork(instance, runId, n.name);
        return {
          name: n.name,
          ns,
          dir,
          leaseFile: join(dir, 'leases'),
          bridge: LAN_BRIDGE,
          macFiltering: n.macFiltering,
          ports: [],
        };
      });
    });
    store.update((s) => {
      s.machines = lab.machines.map((m, i): NsMachine => {
        const dir = join(runDir, 'machines', m.name);
        const vm = image && this.isVm(m) ? { vm: vmState(m, image, this.opts.kernel, dir) } : {};
        const ifindexBase = m.role === 'hypervisor' && !this.isVm(m) ? slots[h++]! * SLOT_WIDTH : undefined;
        const data = {
          ns: nsMachine(instance, runId, m.name),
          dir,
          mgmtLocal: pairs[i]!.local,
          mgmtLink: mgmtLink(runId, i),
          ifindexBase,
          ...vm,
        };
        return { name: m.name, role: m.role, ram: m.ram, vcpu: m.vcpu, address: pairs[i]!.host, hostKey: '', data };
      });
    });
    // record every name now, under the lock, so a concurrent run sees them taken
    for (const d of ['machines', 'networks']) store.record({ kind: 'dir', path: join(runDir, d), owner: 'run' });
    for (const n of nsData(store).networks) store.record({ kind: 'netns', name: n.ns, owner: n.name });
    for (const m of nsMachines(store)) store.record({ kind: 'netns', name: m.data.ns, owner: m.name });
  }

  /** The machine image for these VM machines (built on first use; rebuilt when its inputs change). */
  private async image(vms: Machine[], ctx: ProviderContext): Promise<MachineImage> {
    const t0 = performance.now();
    const requests = [...new Set(vms.map((m) => m.kernel ?? this.opts.kernel ?? DEFAULT_KERNEL))];
    const title = `machine image ${this.suite} (${SUITES[this.suite].title}; booting ${requests.join(', ')})`;
    ctx.emit({ type: 'step-start', stage: 'up', id: 'machine-image', title });
    const img = await machineImage(ctx.home, requests, ctx.emit, ctx.signal, this.suite);
    const durationMs = Math.round(performance.now() - t0);
    const status = durationMs > 5000 ? 'changed' : 'ok';
    ctx.emit({ type: 'step-end', stage: 'up', id: 'machine-image', status, durationMs, detail: img.dir });
    return img;
  }

  attach(store: StateStore, clock?: CommandClock): { machines: MachineHandle[]; underlays: UnderlayHandle[] } {
    const local = new LocalExecutor('host', clock);
    const machines = nsMachines(store).map((m): MachineHandle => {
      const kept = this.live.get(`${store.path}/${m.name}`);
      this.live.delete(`${store.path}/${m.name}`);
      const vm = m.data.vm;
      return {
        name: m.name,
        role: m.role,
        // a namespace machine's own folders are host folders: uploads there are copies on the host, not SFTP
        exec: vm
          ? (kept ?? sshExecutor(store, m, clock))
          : new SharedFsExecutor(kept ?? sshExecutor(store, m, clock), local, (p) =>
              hostPathOf(layout(m.data.dir), m.role === 'hypervisor', p),
            ),
        address: m.address,
        guestVirt: vm?.guestVirt ?? 'qemu',
        sharedFilesystem: !vm,
        ...(vm ? {} : { privatePaths: privatePaths(m.role === 'hypervisor') }),
        consoleLog: vm?.console,
        kind: vm ? `VM (${vm.accel.toUpperCase()})` : 'namespace',
        vm: !!vm,
        ...(vm?.snapshot ? { snapshot: vm.snapshot } : {}),
      };
    });
    const underlays = nsData(store).networks.map(
      (n): UnderlayHandle => ({
        name: n.name,
        exec: new PrefixedExecutor(`network ${n.name}`, local, ['ip', 'netns', 'exec', n.ns]),
        leases: async () => (existsSync(n.leaseFile) ? readFileSync(n.leaseFile, 'utf8') : ''),
        ports: n.ports.map((p) => ({ machine: p.machine, nic: p.nic, port: p.port })),
        dhcpAlive: () =>
          store.state.resources.some(
            (r) =>
              r.kind === 'process' &&
              r.owner === n.name &&
              r.label.startsWith('dnsmasq') &&
              !!r.proc &&
              isAlive(r.proc),
          ),
      }),
    );
    return { machines, underlays };
  }

  async down(store: StateStore, o: TeardownContext): Promise<string[]> {
    // connections from an `up` that never reached a session (it failed part-way) would keep the process alive
    await Promise.all([...this.live.values()].map((x) => x.close()));
    this.live.clear();
    return removeAll(store, o.home, new LocalExecutor('host', o.clock), o.emit);
  }

  async leaks(store: StateStore, home: Home): Promise<string[]> {
    // namespace teardown is asynchronous in the kernel: give it a moment before calling anything a leak
    const deadline = Date.now() + 3000;
    for (;;) {
      const found = scan(store, home);
      if (!found.length || Date.now() > deadline) return found;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  casualties(store: StateStore): { machine: string; why: string }[] {
    const out: { machine: string; why: string }[] = [];
    for (const m of nsMachines(store)) {
      const r = store.state.resources.find((x) => x.kind === 'process' && x.owner === m.name && x.proc);
      if (r?.kind !== 'process' || !r.proc || isAlive(r.proc)) continue;
      const vm = m.data.vm;
      if (!vm) {
        out.push({ machine: m.name, why: 'its init process exited' });
        continue;
      }
      const qemu = tail(qemuStderrFile(m.data.dir), 3).trim().replace(/\n/g, ' | ');
      const stderr = qemu && qemu !== '(no log)' ? ` (${qemu})` : '';
      out.push({ machine: m.name, why: `its QEMU exited${stderr}; last console lines:\n${tail(vm.console, 12)}` });
    }
    return out;
  }

  logs(store: StateStore): { file: string; path: string }[] {
    const machines = nsMachines(store)
      .filter((m) => m.data.vm)
      .flatMap((m) => [
        { file: `machine-${m.name}.log`, path: m.data.vm!.console },
        { file: `machine-${m.name}-qemu-stderr.log`, path: qemuStderrFile(m.data.dir) },
      ]);
    // what the LAN's dnsmasq saw: DHCP requests and answers, router advertisements
    const networks = nsData(store).networks.map((n) => ({
      file: `network-${n.name}-dnsmasq.log`,
      path: join(n.dir, 'dnsmasq.log'),
    }));
    return [...machines, ...networks].filter((l) => existsSync(l.path));
  }

  sharesHostKernel(m: Machine): boolean {
    return !this.isVm(m);
  }

  access(store: StateStore, m: MachineRecord): SshAccess {
    return {
      host: m.address,
      port: 22,
      user: 'root',
      keyFile: store.state.keyFile,
      hostKey: `ssh-ed25519 ${m.hostKey}`,
    };
  }

  describe(m: MachineRecord): MachineDescription {
    const vm = (m.data as NsMachine['data'] | undefined)?.vm;
    if (!vm) return { kind: 'namespace' };
    const guests = vm.guestVirt ? `, guests under ${vm.guestVirt === 'kvm' ? 'KVM' : 'TCG'}` : '';
    const from = vm.snapshot ? `, from snapshot ${vm.snapshot}` : '';
    return {
      kind: `VM (${vm.accel.toUpperCase()})`,
      detail: `kernel ${vm.kernel}${guests}${from}, console ${vm.console}`,
      data: {
        vm: {
          kernel: vm.kernel,
          accel: vm.accel,
          guests: vm.guestVirt,
          console: vm.console,
          ...(vm.snapshot ? { snapshot: vm.snapshot } : {}),
        },
      },
    };
  }
}
