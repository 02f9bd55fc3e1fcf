// Bringing one machine up: its namespace and links, its private folder and keys, its init (sshd, libvirtd) or its
// QEMU VM, and waiting until it answers over ssh (and libvirt, for hypervisors).
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HostError } from '../../errors.ts';
import { readConfig, TIMEOUTS } from '../../host/config.ts';
import { isAlive, type OwnedProcess, spawnDetached } from '../../host/proc.ts';
import type { Resource, StateStore } from '../../host/state.ts';
import { hasStaticAddress, type Machine } from '../../lab/model.ts';
import type { Executor } from '../../transport/executor.ts';
import type { LocalExecutor } from '../../transport/local.ts';
import { SshExecutor } from '../../transport/ssh.ts';
import type { ProviderContext } from '../port.ts';
import { layout, prepareDirs, writeMachineFiles } from './machine-files.ts';
import { LAN_BRIDGE, lanPort, MGMT_NIC } from './names.ts';
import { addNamespace, ipBatch, tail } from './network.ts';
import { linkMark } from './ownership.ts';
import { type NsMachine, nsData } from './state.ts';
import { KVM_PROBE } from './vm/accel.ts';
import { bootVm, didNotComeUp, saveAfterBoot, type VmBoot, type VmMachine } from './vm/boot.ts';
import { saveWarmCaps } from './vm/caps.ts';
import { qemuStderrFile, vmLinks, vmVeths } from './vm/machine.ts';

const IFB_GROUP = 7777;

export function sshExecutor(store: StateStore, m: NsMachine, clock?: ProviderContext['clock']): SshExecutor {
  const target = {
    machine: m.name,
    host: m.address,
    privateKey: readFileSync(store.state.keyFile),
    hostKey: m.hostKey,
  };
  return new SshExecutor(target, clock);
}

/** An ed25519 key pair without a passphrase: file and file.pub. */
export async function sshKeygen(local: LocalExecutor, comment: string, file: string): Promise<void> {
  await local.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

export async function upMachine(
  spec: Machine,
  m: NsMachine,
  index: number,
  ctx: ProviderContext,
  local: LocalExecutor,
  hooks: {
    /** called once its namespace and links exist */
    plumbed?: () => void;
    /** called once its init (or VM) is started, before it is waited for */
    started?: () => void;
    /** the underlay networks its NICs join: its LAN links are made once they are up */
    networksUp?: Promise<unknown>;
    /** its ssh connection is made once this settles (the hypervisors' handshakes first: they are on the run's path) */
    connectAfter?: Promise<unknown>;
    /** called once its ssh connection is made, or it failed before: called on every path */
    connected?: () => void;
  } = {},
) {
  const {
    plumbed = () => {},
    started = () => {},
    networksUp = Promise.resolve(),
    connectAfter,
    connected = () => {},
  } = hooks;
  const { store, emit, home } = ctx;
  const hv = m.role === 'hypervisor';
  const { vm, dir } = m.data;
  const t0 = performance.now();
  const what = vm
    ? `VM, kernel ${vm.kernel}${vm.kernelFile ? ` from ${vm.kernelFile}` : ''}, ${vm.accel.toUpperCase()}, `
    : '';
  const title = `${m.role} ${m.name} (${what}${m.ram} MiB, ${m.vcpu} vCPU${hv ? ', libvirtd' : ''})`;
  emit({ type: 'step-start', stage: 'up', id: `up-${m.name}`, title });
  // the links are made (ip commands) while the machine's folders and host key are: nothing of one needs the other
  const plumbing = plumb(spec, m, index, store, local, networksUp);
  plumbing.catch(() => {}); // awaited below, in every case
  const l = layout(dir);
  const hostKeyFile = join(l.ssh, 'host_ed25519');
  let raised: Promise<void> | undefined;
  let lans: Promise<void> | undefined;
  try {
    try {
      store.record({ kind: 'dir', path: dir, owner: m.name });
      prepareDirs(l, hv && !vm, join(home.cache, 'libvirt-warm'));
      await sshKeygen(local, `virtlab-host-${m.name}`, hostKeyFile);
    } finally {
      // never leave while links are still being made: teardown would miss the ones made after it
      ({ raised, lans } = await plumbing);
    }
    lans.then(plumbed, () => {});
    const exec = await start(spec, m, ctx, l, hostKeyFile, { started, connectAfter, connected });
    // the LAN links are there and the tap slot raised before anything can make a macvtap in the namespace
    await Promise.all([raised, lans]).catch(async (e) => {
      await exec.exec.close();
      throw e;
    });
    const durationMs = Math.round(performance.now() - t0);
    emit({ type: 'step-end', stage: 'up', id: `up-${m.name}`, status: 'changed', durationMs, detail: exec.detail });
    return exec.exec;
  } finally {
    connected();
    await Promise.all([raised?.catch(() => {}), lans?.catch(() => {})]);
  }
}

/** Starts the machine's init (sshd, libvirtd) or its VM, and waits until it answers. */
async function start(
  spec: Machine,
  m: NsMachine,
  ctx: ProviderContext,
  l: ReturnType<typeof layout>,
  hostKeyFile: string,
  hooks: { started: () => void; connectAfter?: Promise<unknown>; connected: () => void },
) {
  const { store, home } = ctx;
  const hv = m.role === 'hypervisor';
  const { vm } = m.data;
  const hostKey = readFileSync(`${hostKeyFile}.pub`, 'utf8').split(' ')[1]!;
  store.note(() => {
    m.hostKey = hostKey;
  });

  const label = vm ? `VM ${m.name} (QEMU)` : `init of ${m.name}`;
  const res = store.record({ kind: 'process', label, owner: m.name }) as Extract<Resource, { kind: 'process' }>;
  let proc: OwnedProcess;
  let boot: VmBoot | undefined;
  if (vm) {
    const keys = { hostKeyFile, authorizedKeyFile: `${store.state.keyFile}.pub` };
    boot = await bootVm(spec, m as VmMachine, ctx, keys, (p) =>
      store.note(() => {
        res.proc = p;
      }),
    );
    proc = boot.proc;
    if (boot.restored)
      store.update(() => {
        vm.snapshot = boot!.key;
      });
  } else {
    writeMachineFiles(l, m.name, hv, m.address, readFileSync(`${store.state.keyFile}.pub`, 'utf8'));
    const unshare = ['unshare', '--mount', '--uts', '--pid', '--fork', '--kill-child', '--mount-proc'];
    const init = [...unshare, '--propagation', 'private', 'tini', '-s', '-g', '--', '/bin/bash', l.init];
    proc = spawnDetached(['ip', 'netns', 'exec', m.data.ns, ...init], l.initLog);
  }
  store.note(() => {
    res.proc = proc;
  });
  hooks.started();
  const exec = await reach(m, proc, vm ? vm.console : l.initLog, ctx, hooks);
  if (hv && !vm) await saveWarmCache(exec, l.cacheLibvirt, join(home.cache, 'libvirt-warm'));
  if (vm && hv) await saveWarmCaps(exec, home, vm);
  if (boot) await saveAfterBoot(boot, m as VmMachine, spec, exec, ctx);
  const guests = vm && hv ? `, guests under ${vm.guestVirt === 'kvm' ? 'KVM (nested)' : 'TCG'}` : '';
  const from = boot?.restored ? `, started from snapshot ${boot.key}` : '';
  return { exec, detail: `ssh root@${m.address}${guests}${from}` };
}

/**
 * The machine's namespace and links: its management veth to the host (marked with the run's alias) and a veth per
 * NIC into the underlay's bridge. A namespace machine's NICs carry its addresses; a VM's only bridge them to QEMU.
 * Returns once the namespace and its management link are there, with what is still being made: the ifindex slot
 * (`raised`) and, for a namespace machine, its LAN links (`lans`, made once the underlay networks are up: its daemons
 * need only the management link, so they start meanwhile). A VM's LAN links are there before it returns (QEMU opens
 * them at its start). When it fails, nothing it started is still running.
 */
async function plumb(
  spec: Machine,
  m: NsMachine,
  index: number,
  store: StateStore,
  local: LocalExecutor,
  networksUp: Promise<unknown>,
): Promise<{ raised: Promise<void>; lans: Promise<void> }> {
  const { ns, vm, ifindexBase, mgmtLink, mgmtLocal } = m.data;
  await addNamespace(
    local,
    store,
    store.state.resources.find((r) => r.kind === 'netns' && r.name === ns) as Extract<Resource, { kind: 'netns' }>,
  );
  const slot: string[] = [];
  if (ifindexBase) {
    // raise this namespace's ifindex counter into its own slot so /dev/tapN never collides (HOST-NOTES)
    for (let i = 0; i < ifindexBase; i++) slot.push(`link add vlifb${i} group ${IFB_GROUP} type ifb`);
    slot.push(`link delete group ${IFB_GROUP}`);
  }
  // the counter is raised (hundreds of links) once the management link is there, while the machine's daemons start:
  // only the macvtaps made later need it, and made at the same time it slowed the management link down (~20 ms)
  let raised: Promise<void> = Promise.resolve();
  store.record({ kind: 'link', name: mgmtLink, owner: m.name });
  const mgmt = [
    `link add ${mgmtLink} type veth peer name ${MGMT_NIC} netns ${ns}`,
    `link set ${mgmtLink} alias ${linkMark(store.state)}`,
    `addr add ${mgmtLocal}/30 dev ${mgmtLink}`,
    `link set ${mgmtLink} up`,
  ];
  let lans: Promise<void> = Promise.resolve();
  try {
    await ipBatch(local, undefined, mgmt);
    const inside = [
      'link set lo up',
      ...(vm ? [] : [`addr add ${m.address}/30 dev ${MGMT_NIC}`, `link set ${MGMT_NIC} up`]),
    ];
    await ipBatch(local, ns, inside);
    raised = slot.length ? ipBatch(local, ns, slot) : Promise.resolve();
    raised.catch(() => {}); // handed to the caller, or awaited below when the links fail
    lans = networksUp.then(() => lanLinks(spec, m, index, store, local));
    lans.catch(() => {}); // handed to the caller, or awaited below
    if (vm) await lans;
  } catch (e) {
    await Promise.all([raised.catch(() => {}), lans.catch(() => {})]);
    throw e;
  }
  return { raised, lans };
}

/** A veth per NIC from the machine into its underlay's bridge, with the NIC's addresses (a namespace machine). */
async function lanLinks(spec: Machine, m: NsMachine, index: number, store: StateStore, local: LocalExecutor) {
  const { ns, vm } = m.data;
  const root: string[] = [];
  const inside: string[] = [];
  const lans = new Map<string, string[]>();
  const networks = nsData(store).networks;
  spec.nics.forEach((nic, j) => {
    const net = networks.find((n) => n.name === nic.network)!;
    const port = lanPort(index, j);
    const addr = vm ? '' : ` address ${nic.mac}`;
    root.push(`link add ${nic.name} netns ${ns}${addr} type veth peer name ${port} netns ${net.ns}`);
    if (!vm && hasStaticAddress(nic)) inside.push(`addr add ${nic.address} dev ${nic.name}`);
    if (!vm && nic.address6) inside.push(`addr add ${nic.address6} dev ${nic.name} nodad`);
    if (!vm) inside.push(`link set ${nic.name} up`);
    lans.set(net.ns, [...(lans.get(net.ns) ?? []), `link set ${port} master ${LAN_BRIDGE}`, `link set ${port} up`]);
    store.note(() => {
      net.ports.push({ machine: m.name, machineNs: ns, nic: nic.name, port, mac: nic.mac });
    });
  });
  await ipBatch(local, undefined, root);
  // a NIC with its own IPv6 address takes nothing from the LAN's router advertisements: no second (SLAAC) address,
  // no routes (libvirt refuses to start an IPv6 network while an uplink holds RA routes with accept_ra 1: measured)
  const fixed6 = vm
    ? []
    : spec.nics
        .filter((x) => x.address6)
        .flatMap((x) => [`net.ipv6.conf.${x.name}.autoconf=0`, `net.ipv6.conf.${x.name}.accept_ra=0`]);
  if (fixed6.length) await local.run(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', ...fixed6]);
  await ipBatch(local, ns, vm ? vmLinks(vmVeths(spec)) : inside);
  for (const [netNs, cmds] of lans) await ipBatch(local, netNs, cmds);
}

/**
 * Waits until the machine answers over ssh (and its libvirtd, for hypervisors). A VM boots for ~20 s under TCG
 * and its libvirtd probes QEMU for longer: it gets longer, but the wait stops as soon as its process dies.
 */
async function reach(
  m: NsMachine,
  proc: OwnedProcess,
  log: string,
  ctx: ProviderContext,
  { connectAfter, connected }: { connectAfter?: Promise<unknown>; connected: () => void },
): Promise<SshExecutor> {
  const vm = m.data.vm;
  const died = new AbortController();
  const watch = setInterval(() => {
    if (!isAlive(proc)) died.abort(new HostError(vm ? 'QEMU exited' : 'its init exited'));
  }, 250);
  const signal = AbortSignal.any([ctx.signal, died.signal]);
  const exec = sshExecutor(ctx.store, m, ctx.clock);
  try {
    if (connectAfter) await Promise.race([connectAfter.catch(() => {}), aborted(signal)]);
    await exec.connect({ deadlineMs: vm ? TIMEOUTS.vmBootMs : TIMEOUTS.machineConnectMs, signal });
    connected();
    if (m.role === 'hypervisor') await waitForLibvirt(exec, signal, vm ? TIMEOUTS.vmBootMs : TIMEOUTS.libvirtUpMs);
    if (vm && m.role === 'hypervisor') await probeKvm(exec, ctx.store, m);
    return exec;
  } catch (e) {
    await exec.close();
    if (ctx.signal.aborted) throw e;
    const stderr = vm ? `: ${tail(qemuStderrFile(m.data.dir), 3)}` : '';
    const why = died.signal.aborted ? `${(died.signal.reason as Error).message}${stderr}` : (e as Error).message;
    throw didNotComeUp(m.name, why, log, !!vm);
  } finally {
    clearInterval(watch);
  }
}

/** Inside a hypervisor VM: does /dev/kvm work there? Guests use KVM when it does, TCG otherwise. */
async function probeKvm(exec: Executor, store: StateStore, m: NsMachine): Promise<void> {
  const works = (await exec.run(KVM_PROBE, { check: false })).exitCode === 0;
  const guestVirt = readConfig().guestVirt === 'qemu' || !works ? 'qemu' : 'kvm';
  store.note(() => {
    m.data.vm!.guestVirt = guestVirt;
  });
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
    // a namespace machine's libvirtd answers ~0.1 s after it starts: asked often, it is seen soon (one virsh: ~15 ms)
    await new Promise((res) => setTimeout(res, 25));
  }
}

/**
 * The first hypervisor on this host keeps libvirt's QEMU capabilities for the ones after it (prepareDirs copies them
 * in): `virsh capabilities` makes libvirtd probe QEMU now, which it would otherwise do at the first virt-install,
 * after this point (so nothing was ever saved: measured, every run probed). Once saved, a later machine asks in the
 * background (the run goes on), and when its libvirtd found the saved cache outdated (QEMU or libvirt upgraded since,
 * another host CPU) and probed again, the fresh files replace the saved ones: otherwise every later run would probe.
 */
async function saveWarmCache(exec: Executor, from: string, to: string): Promise<void> {
  const caps = (dir: string) => join(dir, 'qemu', 'capabilities');
  const have = existsSync(caps(to));
  const asked = exec.run(['virsh', 'capabilities'], { check: false }).then(() => {
    if (!existsSync(caps(from))) return;
    if (!have) return cpSync(from, to, { recursive: true });
    for (const f of readdirSync(caps(from))) {
      const fresh = readFileSync(join(caps(from), f));
      const saved = join(caps(to), f);
      if (existsSync(saved) && fresh.equals(readFileSync(saved))) continue;
      const tmp = `${saved}.${process.pid}.tmp`;
      writeFileSync(tmp, fresh, { mode: 0o600 });
      renameSync(tmp, saved);
    }
  });
  // a cache: best effort (a machine torn down meanwhile takes its files with it)
  const done = asked.catch(() => {});
  if (!have) await done;
}

/** Rejects when the signal aborts (with its reason). */
function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
