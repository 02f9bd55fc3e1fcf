// The netns provider: each machine is a network namespace with private mount/UTS/PID namespaces, its own sshd
// and (hypervisors) its own libvirtd; each underlay network is a bridge in its own namespace with dnsmasq.
// A machine can instead be a QEMU VM running inside its namespace (src/providers/vm/: the vm provider makes every
// hypervisor one, `provider: vm` in machines.yml any machine); the namespaces, links and teardown stay the same.
import { existsSync, mkdirSync, readFileSync, rmSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HostError, wrap } from '../../errors.ts';
import { formatIp, mask } from '../../lab/ipv4.ts';
import type { Lab, Machine } from '../../lab/model.ts';
import type { Emit } from '../../report/events.ts';
import type { Home } from '../../runner/home.ts';
import { withHostLock } from '../../runner/lock.ts';
import { isAlive, killOwned, procStart, spawnDetached, type OwnedProcess } from '../../runner/proc.ts';
import { StateStore, type MachineState, type NetworkState, type Resource } from '../../runner/state.ts';
import type { CommandClock, Executor } from '../../transport/executor.ts';
import { LocalExecutor } from '../../transport/local.ts';
import { PrefixedExecutor } from '../../transport/prefixed.ts';
import { SshExecutor } from '../../transport/ssh.ts';
import { commandLine } from '../../transport/quote.ts';
import type { MachineHandle, Problem, Provider, ProviderContext, UnderlayHandle } from '../provider.ts';
import { allocateMgmt, allocateSlots, SLOT_WIDTH, tapNumbers, usedHostAddresses } from './alloc.ts';
import { layout, prepareDirs, writeMachineFiles } from './machine-files.ts';
import { LAN_BRIDGE, lanPort, MGMT_NIC, mgmtLink, nsMachine, nsNetwork } from './names.ts';
import { hostProblems } from './preflight.ts';
import { KVM_PROBE } from '../vm/accel.ts';
import { saveWarmCaps, warmCapsFile } from '../vm/caps.ts';
import { DEFAULT_KERNEL, machineImage, type MachineImage } from '../vm/image.ts';
import { qemuStderrFile, startVm, vmImageFiles, vmLinks, vmState, vmVeths } from '../vm/machine.ts';
import { vmProblems } from '../vm/preflight.ts';
import { claimVmSlot } from '../vm/slots.ts';
import { VM_QMP_PORT, vmNicId } from '../vm/qemu.ts';
import { allDone } from '../../runner/parallel.ts';

const IFB_GROUP = 7777;
// resolved from the project root so that the compiled dist/ finds it too
const SWITCH_AGENT = fileURLToPath(new URL('../../../src/providers/netns/switch-agent.sh', import.meta.url));

export interface NetnsOptions {
  /** which machines boot as QEMU VMs: those machines.yml marks `provider: vm` (netns), or every hypervisor too (vm) */
  vms?: 'requested' | 'hypervisors';
  /** the kernel VM hypervisors boot unless machines.yml names one */
  kernel?: string;
  name?: string;
}

export class NetnsProvider implements Provider {
  readonly name: string;
  private readonly opts: NetnsOptions;
  /** connections opened while bringing machines up, handed on to the session (saves a connection per machine) */
  private readonly live = new Map<string, SshExecutor>();

  constructor(o: NetnsOptions = {}) {
    this.opts = o;
    this.name = o.name ?? 'netns';
  }

  /** Is this machine a QEMU VM under this provider? */
  isVm(m: Machine): boolean {
    return (
      m.provider === 'vm' || (m.provider !== 'netns' && this.opts.vms === 'hypervisors' && m.role === 'hypervisor')
    );
  }

  async preflight(lab: Lab, home: Home): Promise<Problem[]> {
    const vms = lab.machines.filter((m) => this.isVm(m));
    const local = lab.machines.filter((m) => !this.isVm(m));
    return [...(await hostProblems(local.some((m) => m.role === 'hypervisor'))), ...vmProblems(vms)];
  }

  async up(lab: Lab, ctx: ProviderContext): Promise<void> {
    const { store, home, emit } = ctx;
    const local = new LocalExecutor('host', ctx.clock);
    const { instance, runId, runDir } = store.state;

    const vmMachines = lab.machines.filter((m) => this.isVm(m));
    const image = vmMachines.length ? await this.image(vmMachines, ctx) : undefined;
    if (vmMachines.length) await claimVmSlot(home, store, emit, ctx.signal);

    await withHostLock(home, async () => {
      const others = StateStore.list(home).filter((o) => o.path !== store.path && o.state.status !== 'down');
      const addrs = usedHostAddresses((await local.run(['ip', '-j', '-4', 'addr'])).stdout);
      const pairs = allocateMgmt(lab.machines.length, others, addrs);
      // ifindex slots keep /dev/tapN apart for hypervisors that share this kernel (VMs have their own)
      const slots = allocateSlots(
        lab.machines.filter((m) => m.role === 'hypervisor' && !this.isVm(m)).length,
        others,
        tapNumbers(),
      );
      let h = 0;
      store.update((s) => {
        s.networks = lab.networks.map((n): NetworkState => {
          const dir = join(runDir, 'networks', n.name);
          return {
            name: n.name,
            ns: nsNetwork(instance, runId, n.name),
            dir,
            leaseFile: join(dir, 'leases'),
            bridge: LAN_BRIDGE,
            macFiltering: n.macFiltering,
            ports: [],
          };
        });
        s.machines = lab.machines.map(
          (m, i): MachineState => ({
            name: m.name,
            role: m.role,
            ns: nsMachine(instance, runId, m.name),
            dir: join(runDir, 'machines', m.name),
            mgmtLocal: pairs[i]!.local,
            mgmtHost: pairs[i]!.host,
            mgmtLink: mgmtLink(runId, i),
            hostKey: '',
            ifindexBase: m.role === 'hypervisor' && !this.isVm(m) ? slots[h++]! * SLOT_WIDTH : undefined,
            ram: m.ram,
            vcpu: m.vcpu,
            ...(image && this.isVm(m)
              ? { vm: vmState(m, image, this.opts.kernel, join(runDir, 'machines', m.name)) }
              : {}),
          }),
        );
      });
      // record every name now, under the lock, so a concurrent run sees them taken
      for (const d of ['machines', 'networks']) store.record({ kind: 'dir', path: join(runDir, d), owner: 'run' });
      for (const n of store.state.networks) store.record({ kind: 'netns', name: n.ns, owner: n.name });
      for (const m of store.state.machines) store.record({ kind: 'netns', name: m.ns, owner: m.name });
    });

    const keyDir = join(runDir, 'keys');
    mkdirSync(keyDir, { recursive: true, mode: 0o700 });
    await local.run([
      'ssh-keygen',
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      `virtlab-${instance}-${runId}`,
      '-f',
      store.state.keyFile,
    ]);

    await allDone(
      store.state.networks.map((n) =>
        this.upNetwork(lab, n, store, local, emit).catch((e) => {
          throw wrap(`bring up network ${n.name}`, e);
        }),
      ),
    );
    await allDone(
      store.state.machines.map((m, i) =>
        this.upMachine(lab, m, i, ctx, local).catch((e) => {
          throw wrap(`bring up machine ${m.name}`, e);
        }),
      ),
    );
    await allDone(
      store.state.networks
        .filter((n) => n.macFiltering)
        .map((n) =>
          this.macFiltering(lab, n, store, local).catch((e) => {
            throw wrap(`make network ${n.name} mac-filtering`, e);
          }),
        ),
    );
  }

  /**
   * The outer hypervisor's switch: each machine port gets an ebtables chain that accepts frames for the NIC's own
   * MAC and multicast/broadcast, and drops the rest unless the NIC is promiscuous. The switch agent follows the flag:
   * with ip link for namespace machines, over QMP (the virtio NIC's receive filter) for VMs.
   */
  private async macFiltering(lab: Lab, n: NetworkState, store: StateStore, local: LocalExecutor): Promise<void> {
    if (!n.ports.length) return;
    // one shell for all rules (each ebtables call costs ~30 ms); every word goes through the quoting function
    const rules: string[][] = [];
    const watched: string[] = [];
    for (const p of n.ports) {
      const chain = `vl-${p.port}`;
      rules.push(
        ['ebtables', '-N', chain, '-P', 'DROP'],
        ['ebtables', '-A', chain, '-d', p.mac, '-j', 'ACCEPT'],
        ['ebtables', '-A', chain, '-d', 'Multicast', '-j', 'ACCEPT'],
        ['ebtables', '-A', 'FORWARD', '-o', p.port, '-j', chain],
        ['ebtables', '-A', 'OUTPUT', '-o', p.port, '-j', chain],
      );
      if (store.state.machines.find((m) => m.name === p.machine)?.vm) {
        // QEMU's NIC 0 is the management NIC; the lab's NICs follow in order
        const nic = lab.machines.find((m) => m.name === p.machine)!.nics.findIndex((x) => x.name === p.nic) + 1;
        watched.push(`vm:${p.machineNs}`, vmNicId(nic), chain);
      } else watched.push(p.machineNs, p.nic, chain);
    }
    await local.run(['ip', 'netns', 'exec', n.ns, 'sh', '-e', '-c', rules.map((r) => commandLine(r)).join('\n')]);
    const res = store.record({ kind: 'process', label: `switch agent for ${n.name}`, owner: n.name }) as Extract<
      Resource,
      { kind: 'process' }
    >;
    const log = join(n.dir, 'switch-agent.log');
    const proc = spawnDetached(
      ['ip', 'netns', 'exec', n.ns, 'bash', SWITCH_AGENT, ...watched],
      log,
      { VIRTLAB_QMP_PORT: String(VM_QMP_PORT) },
      true,
    );
    store.update(() => {
      res.proc = proc;
    });
    await waitFor(() => /switch agent ready/.test(tail(log, 5)) || !isAlive(proc), 5000);
    if (!isAlive(proc)) throw new HostError(`the switch agent of ${n.name} exited: ${tail(log)}`);
  }

  private async upNetwork(
    lab: Lab,
    n: NetworkState,
    store: StateStore,
    local: LocalExecutor,
    emit: Emit,
  ): Promise<void> {
    const spec = lab.networks.find((x) => x.name === n.name)!;
    const t0 = performance.now();
    emit({
      type: 'step-start',
      stage: 'up',
      id: `net-${n.name}`,
      title: `underlay network ${n.name} (${spec.subnet}, DHCP ${spec.dhcp ? `${spec.dhcp.start}-${spec.dhcp.end}` : 'off'})`,
    });
    await local.run(['ip', 'netns', 'add', n.ns]);
    store.record({ kind: 'dir', path: n.dir, owner: n.name });
    mkdirSync(n.dir, { recursive: true, mode: 0o700 });
    await ipBatch(local, n.ns, [
      'link set lo up',
      `link add ${LAN_BRIDGE} type bridge`,
      `link set ${LAN_BRIDGE} up`,
      `addr add ${spec.gateway}/${spec.prefix} dev ${LAN_BRIDGE}`,
    ]);
    if (spec.dhcp) {
      const res = store.record({ kind: 'process', label: `dnsmasq for ${n.name}`, owner: n.name }) as Extract<
        Resource,
        { kind: 'process' }
      >;
      const netmask = formatIp(mask(spec.prefix));
      const proc = spawnDetached(
        [
          'ip',
          'netns',
          'exec',
          n.ns,
          'dnsmasq',
          '--keep-in-foreground',
          '--conf-file=/dev/null',
          '--no-resolv',
          '--no-hosts',
          '--port=0',
          '--bind-interfaces',
          `--interface=${LAN_BRIDGE}`,
          '--except-interface=lo',
          `--listen-address=${spec.gateway}`,
          `--dhcp-range=${spec.dhcp.start},${spec.dhcp.end},${netmask},1h`,
          `--dhcp-leasefile=${n.leaseFile}`,
          '--dhcp-authoritative',
          '--no-ping',
          '--log-dhcp',
          `--log-facility=${join(n.dir, 'dnsmasq.log')}`,
          '--user=root',
          '--group=root',
          `--pid-file=${join(n.dir, 'dnsmasq.pid')}`,
        ],
        join(n.dir, 'dnsmasq.out'),
      );
      store.update(() => {
        res.proc = proc;
      });
      await waitFor(() => existsSync(join(n.dir, 'dnsmasq.pid')) || !isAlive(proc), 5000);
      if (!isAlive(proc))
        throw new HostError(`dnsmasq for ${n.name} exited at start: ${tail(join(n.dir, 'dnsmasq.out'))}`);
    }
    emit({
      type: 'step-end',
      stage: 'up',
      id: `net-${n.name}`,
      status: 'changed',
      durationMs: Math.round(performance.now() - t0),
    });
  }

  private async upMachine(
    lab: Lab,
    m: MachineState,
    index: number,
    ctx: ProviderContext,
    local: LocalExecutor,
  ): Promise<void> {
    const { store, emit, home } = ctx;
    const spec = lab.machines.find((x) => x.name === m.name)!;
    const hv = m.role === 'hypervisor';
    const vm = m.vm;
    const t0 = performance.now();
    const what = vm ? `VM, kernel ${vm.kernel}, ${vm.accel.toUpperCase()}, ` : '';
    emit({
      type: 'step-start',
      stage: 'up',
      id: `up-${m.name}`,
      title: `${m.role} ${m.name} (${what}${m.ram} MiB, ${m.vcpu} vCPU${hv ? ', libvirtd' : ''})`,
    });
    await this.plumb(spec, m, index, store, local);

    store.record({ kind: 'dir', path: m.dir, owner: m.name });
    const l = layout(m.dir);
    prepareDirs(l, hv && !vm, join(home.cache, 'libvirt-warm'));
    await local.run([
      'ssh-keygen',
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      `virtlab-host-${m.name}`,
      '-f',
      join(l.ssh, 'host_ed25519'),
    ]);
    const hostKey = readFileSync(join(l.ssh, 'host_ed25519.pub'), 'utf8').split(' ')[1]!;
    store.update(() => {
      m.hostKey = hostKey;
    });

    const res = store.record({
      kind: 'process',
      label: vm ? `VM ${m.name} (QEMU)` : `init of ${m.name}`,
      owner: m.name,
    }) as Extract<Resource, { kind: 'process' }>;
    let proc: OwnedProcess;
    if (vm) {
      proc = await startVm({ ...m, vm }, spec, {
        hostKeyFile: join(l.ssh, 'host_ed25519'),
        authorizedKeyFile: `${store.state.keyFile}.pub`,
        ...vmImageFiles(vm),
        caps: warmCapsFile(home, vm),
      });
    } else {
      writeMachineFiles(l, m.name, hv, m.mgmtHost, readFileSync(`${store.state.keyFile}.pub`, 'utf8'));
      proc = spawnDetached(
        [
          'ip',
          'netns',
          'exec',
          m.ns,
          'unshare',
          '--mount',
          '--uts',
          '--pid',
          '--fork',
          '--kill-child',
          '--mount-proc',
          '--propagation',
          'private',
          'tini',
          '-s',
          '-g',
          '--',
          '/bin/bash',
          l.init,
        ],
        l.initLog,
      );
    }
    store.update(() => {
      res.proc = proc;
    });
    const exec = await this.reach(m, proc, vm ? vm.console : l.initLog, ctx);
    if (hv && !vm) saveWarmCache(l.cacheLibvirt, join(home.cache, 'libvirt-warm'));
    if (vm && hv) await saveWarmCaps(exec, home, vm);
    const guests = vm && hv ? `, guests under ${vm.guestVirt === 'kvm' ? 'KVM (nested)' : 'TCG'}` : '';
    emit({
      type: 'step-end',
      stage: 'up',
      id: `up-${m.name}`,
      status: 'changed',
      durationMs: Math.round(performance.now() - t0),
      detail: `ssh root@${m.mgmtHost}${guests}`,
    });
  }

  /**
   * The machine's namespace and links: its management veth to the host and a veth per NIC into the underlay's
   * bridge. A namespace machine's NICs carry its addresses; a VM's namespace only bridges them to QEMU's taps.
   */
  private async plumb(
    spec: Machine,
    m: MachineState,
    index: number,
    store: StateStore,
    local: LocalExecutor,
  ): Promise<void> {
    const vm = !!m.vm;
    await local.run(['ip', 'netns', 'add', m.ns]);
    const lo = ['link set lo up'];
    if (m.ifindexBase) {
      // raise this namespace's ifindex counter into its own slot so /dev/tapN never collides (HOST-NOTES)
      for (let i = 0; i < m.ifindexBase; i++) lo.push(`link add vlifb${i} group ${IFB_GROUP} type ifb`);
      lo.push(`link delete group ${IFB_GROUP}`);
    }
    await ipBatch(local, m.ns, lo);
    store.record({ kind: 'link', name: m.mgmtLink, owner: m.name });
    const root = [
      `link add ${m.mgmtLink} type veth peer name ${MGMT_NIC} netns ${m.ns}`,
      `addr add ${m.mgmtLocal}/30 dev ${m.mgmtLink}`,
      `link set ${m.mgmtLink} up`,
    ];
    const inside = vm ? [] : [`addr add ${m.mgmtHost}/30 dev ${MGMT_NIC}`, `link set ${MGMT_NIC} up`];
    const lans = new Map<string, string[]>();
    spec.nics.forEach((nic, j) => {
      const net = store.state.networks.find((n) => n.name === nic.network)!;
      const port = lanPort(index, j);
      root.push(
        `link add ${nic.name} netns ${m.ns}${vm ? '' : ` address ${nic.mac}`} type veth peer name ${port} netns ${net.ns}`,
      );
      if (!vm && nic.address !== 'dhcp') inside.push(`addr add ${nic.address} dev ${nic.name}`);
      if (!vm) inside.push(`link set ${nic.name} up`);
      lans.set(net.ns, [...(lans.get(net.ns) ?? []), `link set ${port} master ${LAN_BRIDGE}`, `link set ${port} up`]);
      store.update(() => {
        net.ports.push({ machine: m.name, machineNs: m.ns, nic: nic.name, port, mac: nic.mac });
      });
    });
    await ipBatch(local, undefined, root);
    await ipBatch(local, m.ns, vm ? vmLinks(vmVeths(spec)) : inside);
    for (const [ns, cmds] of lans) await ipBatch(local, ns, cmds);
  }

  /**
   * Waits until the machine answers over ssh (and its libvirtd, for hypervisors). A VM boots for ~20 s under TCG
   * and its libvirtd probes QEMU for longer: it gets longer, but the wait stops as soon as its process dies.
   */
  private async reach(m: MachineState, proc: OwnedProcess, log: string, ctx: ProviderContext): Promise<SshExecutor> {
    const vm = m.vm;
    const hv = m.role === 'hypervisor';
    const died = new AbortController();
    const watch = setInterval(() => {
      if (!isAlive(proc)) died.abort(new Error(vm ? 'QEMU exited' : 'its init exited'));
    }, 250);
    const signal = AbortSignal.any([ctx.signal, died.signal]);
    const exec = this.sshExecutor(ctx.store, m, ctx.clock);
    try {
      await exec.connect({ deadlineMs: vm ? 240000 : 20000, signal });
      if (hv) await waitForLibvirt(exec, signal, vm ? 240000 : 30000);
      if (vm && hv) await this.probeKvm(exec, ctx.store, m);
      this.live.set(`${ctx.store.path}/${m.name}`, exec);
      return exec;
    } catch (e) {
      await exec.close();
      if (ctx.signal.aborted) throw e;
      const why = died.signal.aborted
        ? `${(died.signal.reason as Error).message}${vm ? `: ${tail(qemuStderrFile(m.dir), 3)}` : ''}`
        : (e as Error).message;
      throw new HostError(
        `${m.name} did not come up: ${why}\n--- last lines of ${log} ---\n${tail(log, 20)}`,
        vm ? 'the whole console is kept in the report folder (consoles/)' : undefined,
      );
    } finally {
      clearInterval(watch);
    }
  }

  /** Preflight inside a hypervisor VM: does /dev/kvm work there? Guests use KVM when it does, TCG otherwise. */
  private async probeKvm(exec: Executor, store: StateStore, m: MachineState): Promise<void> {
    const forced = process.env.VIRTLAB_GUEST_VIRT;
    const works = (await exec.run(KVM_PROBE, { check: false })).exitCode === 0;
    const guestVirt = forced === 'qemu' || !works ? 'qemu' : 'kvm';
    store.update(() => {
      m.vm!.guestVirt = guestVirt;
    });
  }

  /** The machine image for these VM machines (built on first use; rebuilt when its inputs change). */
  private async image(vms: Machine[], ctx: ProviderContext): Promise<MachineImage> {
    const t0 = performance.now();
    const requests = [...new Set(vms.map((m) => m.kernel ?? this.opts.kernel ?? DEFAULT_KERNEL))];
    ctx.emit({
      type: 'step-start',
      stage: 'up',
      id: 'machine-image',
      title: `machine image (Debian 12 with libvirt and QEMU; booting ${requests.join(', ')})`,
    });
    const img = await machineImage(ctx.home, requests, ctx.emit, ctx.signal);
    ctx.emit({
      type: 'step-end',
      stage: 'up',
      id: 'machine-image',
      status: performance.now() - t0 > 5000 ? 'changed' : 'ok',
      durationMs: Math.round(performance.now() - t0),
      detail: img.dir,
    });
    return img;
  }

  private sshExecutor(store: StateStore, m: MachineState, clock?: CommandClock): SshExecutor {
    return new SshExecutor(
      { machine: m.name, host: m.mgmtHost, privateKey: readFileSync(store.state.keyFile), hostKey: m.hostKey },
      clock,
    );
  }

  attach(store: StateStore, clock?: CommandClock): { machines: MachineHandle[]; underlays: UnderlayHandle[] } {
    const local = new LocalExecutor('host', clock);
    return {
      machines: store.state.machines.map((m) => {
        const kept = this.live.get(`${store.path}/${m.name}`);
        this.live.delete(`${store.path}/${m.name}`);
        return {
          name: m.name,
          role: m.role,
          exec: kept ?? this.sshExecutor(store, m, clock),
          address: m.mgmtHost,
          guestVirt: m.vm?.guestVirt ?? 'qemu',
          sharedFilesystem: !m.vm,
          consoleLog: m.vm?.console,
          kind: m.vm ? `VM (${m.vm.accel.toUpperCase()})` : 'namespace',
          vm: !!m.vm,
        };
      }),
      underlays: store.state.networks.map((n) => ({
        name: n.name,
        exec: new PrefixedExecutor(`network ${n.name}`, local, ['ip', 'netns', 'exec', n.ns]),
        leases: async () => (existsSync(n.leaseFile) ? readFileSync(n.leaseFile, 'utf8') : ''),
        ports: n.ports.map((p) => ({ machine: p.machine, nic: p.nic, port: p.port })),
        dhcpAlive: () =>
          store.state.resources.some(
            (r) =>
              r.kind === 'process' && r.owner === n.name && r.label.startsWith('dnsmasq') && r.proc && isAlive(r.proc),
          ),
      })),
    };
  }

  async down(store: StateStore, emit: Emit, clock?: CommandClock): Promise<void> {
    // connections from an `up` that never reached a session (it failed part-way) would keep the process alive
    await Promise.all([...this.live.values()].map((x) => x.close()));
    this.live.clear();
    const local = new LocalExecutor('host', clock);
    const res = [...store.state.resources].reverse();
    // 1. processes: the recorded ones, then anything still inside our namespaces (covers a kill -9 mid-start)
    await Promise.all(
      res
        .filter((r) => r.kind === 'process')
        .map(async (r) => {
          if (r.kind !== 'process' || !r.proc) return;
          const ok = await killOwned(r.proc);
          emit({ type: 'removed', what: `process ${r.label} (pid ${r.proc.pid})`, ok });
        }),
    );
    const namespaces = res.filter((r): r is Extract<Resource, { kind: 'netns' }> => r.kind === 'netns');
    await Promise.all(namespaces.map((r) => killNamespacePids(local, r.name)));
    // 2. namespaces (their veths, bridges and macvtaps go with them) and root-namespace links
    await Promise.all(
      namespaces.map(async (r) => {
        if (!existsSync(`/run/netns/${r.name}`)) return;
        const out = await local.run(['ip', 'netns', 'delete', r.name], { check: false });
        emit({
          type: 'removed',
          what: `namespace ${r.name}`,
          ok: out.exitCode === 0,
          detail: out.stderr.trim() || undefined,
        });
      }),
    );
    for (const r of res) {
      if (r.kind === 'link' && existsSync(`/sys/class/net/${r.name}`)) {
        const out = await local.run(['ip', 'link', 'delete', r.name], { check: false });
        emit({
          type: 'removed',
          what: `link ${r.name}`,
          ok: out.exitCode === 0 || !existsSync(`/sys/class/net/${r.name}`),
        });
      }
    }
    // 3. private folders (logs worth keeping were collected into the report folder)
    for (const r of res) {
      if (r.kind === 'dir' && existsSync(r.path)) {
        rmSync(r.path, { recursive: true, force: true });
        emit({ type: 'removed', what: `folder ${r.path}`, ok: !existsSync(r.path) });
      }
    }
  }

  casualties(store: StateStore): { machine: string; why: string }[] {
    const out: { machine: string; why: string }[] = [];
    for (const m of store.state.machines) {
      const r = store.state.resources.find((x) => x.kind === 'process' && x.owner === m.name && x.proc);
      if (r?.kind !== 'process' || !r.proc || isAlive(r.proc)) continue;
      const qemu = m.vm ? tail(qemuStderrFile(m.dir), 3).trim().replace(/\n/g, ' | ') : '';
      out.push({
        machine: m.name,
        why: m.vm
          ? `its QEMU exited${qemu && qemu !== '(no log)' ? ` (${qemu})` : ''}; last console lines:\n${tail(m.vm.console, 12)}`
          : 'its init process exited',
      });
    }
    return out;
  }

  logs(store: StateStore): { name: string; path: string }[] {
    return store.state.machines
      .filter((m) => m.vm)
      .flatMap((m) => [
        { name: m.name, path: m.vm!.console },
        { name: `${m.name}-qemu-stderr`, path: qemuStderrFile(m.dir) },
      ])
      .filter((l) => existsSync(l.path));
  }

  async leaks(store: StateStore): Promise<string[]> {
    // namespace teardown is asynchronous in the kernel: give it a moment before calling anything a leak
    const deadline = Date.now() + 3000;
    for (;;) {
      const found = this.scan(store);
      if (!found.length || Date.now() > deadline) return found;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private scan(store: StateStore): string[] {
    const found: string[] = [];
    for (const r of store.state.resources) {
      if (r.kind === 'netns' && existsSync(`/run/netns/${r.name}`)) found.push(`namespace ${r.name}`);
      if (r.kind === 'link' && existsSync(`/sys/class/net/${r.name}`)) found.push(`link ${r.name}`);
      if (r.kind === 'process' && r.proc && isAlive(r.proc)) found.push(`process ${r.label} (pid ${r.proc.pid})`);
      if (r.kind === 'dir' && existsSync(r.path)) found.push(`folder ${r.path}`);
    }
    for (const m of store.state.machines) {
      if (!m.ifindexBase) continue;
      for (const t of tapNumbers())
        if (t >= m.ifindexBase && t < m.ifindexBase + SLOT_WIDTH) found.push(`/dev/tap${t} (slot of ${m.name})`);
    }
    return found;
  }
}

async function ipBatch(local: LocalExecutor, ns: string | undefined, cmds: string[]): Promise<void> {
  if (!cmds.length) return;
  await local.run(['ip', ...(ns ? ['-n', ns] : []), '-batch', '-'], { input: cmds.join('\n') + '\n' });
}

async function killNamespacePids(local: LocalExecutor, ns: string): Promise<void> {
  if (!existsSync(`/run/netns/${ns}`)) return;
  for (let i = 0; i < 100; i++) {
    const out = await local.run(['ip', 'netns', 'pids', ns], { check: false });
    const pids = out.stdout
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
      .filter((p) => procStart(p) !== undefined);
    if (!pids.length) return;
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitForLibvirt(exec: Executor, signal: AbortSignal, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const r = await exec.run(['virsh', '-q', 'list', '--name'], {
      check: false,
      timeoutMs: Math.min(ms, 120000),
      signal,
    });
    if (r.exitCode === 0) return;
    if (Date.now() > until) throw new HostError(`libvirtd on ${exec.machine} does not answer: ${r.stderr.trim()}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

function saveWarmCache(from: string, to: string): void {
  if (existsSync(join(to, 'qemu', 'capabilities')) || !existsSync(join(from, 'qemu', 'capabilities'))) return;
  try {
    cpSync(from, to, { recursive: true });
  } catch {
    /* a cache; best effort */
  }
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
}

export function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
