// An underlay network: a bridge in its own namespace with its own DHCP server (dnsmasq, the LAN of the original
// lab), and, for a mac-filtering network, ebtables chains and a switch agent that follow each port's PROMISC flag.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HostError } from '../../errors.ts';
import { packagePath } from '../../host/package-root.ts';
import { isAlive, spawnDetached } from '../../host/proc.ts';
import type { Resource, StateStore } from '../../host/state.ts';
import { formatIp, mask } from '../../lab/ipv4.ts';
import type { Lab, Underlay } from '../../lab/model.ts';
import type { Emit } from '../../report/events.ts';
import type { LocalExecutor } from '../../transport/local.ts';
import { LAN_BRIDGE } from './names.ts';
import { netnsInode } from './ownership.ts';
import { type NsNetwork, nsMachines } from './state.ts';
import { VM_QMP_PORT, vmNicId } from './vm/qemu.ts';

// resolved from the project root so that the compiled dist/ finds it too
const SWITCH_AGENT = packagePath('src', 'providers', 'netns', 'switch-agent.sh');

export async function ipBatch(local: LocalExecutor, ns: string | undefined, cmds: string[]): Promise<void> {
  if (!cmds.length) return;
  await local.run(['ip', ...(ns ? ['-n', ns] : []), '-batch', '-'], { input: `${cmds.join('\n')}\n` });
}

/** Creates a namespace, recording its inode (the identity `down` checks) as soon as it exists. */
export async function addNamespace(local: LocalExecutor, store: StateStore, r: Extract<Resource, { kind: 'netns' }>) {
  await local.run(['ip', 'netns', 'add', r.name]);
  store.note(() => {
    r.ino = netnsInode(r.name);
  });
}

export function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
}

const nsResource = (store: StateStore, name: string) =>
  store.state.resources.find((r): r is Extract<Resource, { kind: 'netns' }> => r.kind === 'netns' && r.name === name)!;

export async function upNetwork(lab: Lab, n: NsNetwork, store: StateStore, local: LocalExecutor, emit: Emit) {
  const spec = lab.networks.find((x) => x.name === n.name)!;
  const t0 = performance.now();
  const dhcp = spec.dhcp ? `${spec.dhcp.start}-${spec.dhcp.end}` : 'off';
  const id = `net-${n.name}`;
  const v6 = spec.v6 ? `, ${spec.v6.subnet} by RA` : '';
  emit({
    type: 'step-start',
    stage: 'up',
    id,
    title: `underlay network ${n.name} (${spec.subnet}, DHCP ${dhcp}${v6})`,
  });
  await addNamespace(local, store, nsResource(store, n.ns));
  store.record({ kind: 'dir', path: n.dir, owner: n.name });
  mkdirSync(n.dir, { recursive: true, mode: 0o700 });
  await ipBatch(local, n.ns, [
    'link set lo up',
    `link add ${LAN_BRIDGE} type bridge`,
    `link set ${LAN_BRIDGE} up`,
    `addr add ${spec.gateway}/${spec.prefix} dev ${LAN_BRIDGE}`,
    // the router of a dual-stack LAN: its address at once (no duplicate detection to wait for)
    ...(spec.v6 ? [`addr add ${spec.v6.gateway}/${spec.v6.prefix} dev ${LAN_BRIDGE} nodad`] : []),
  ]);
  if (spec.dhcp || spec.v6) await startDnsmasq(n, spec, store);
  emit({ type: 'step-end', stage: 'up', id, status: 'changed', durationMs: Math.round(performance.now() - t0) });
}

async function startDnsmasq(n: NsNetwork, spec: Underlay, store: StateStore): Promise<void> {
  const res = store.record({ kind: 'process', label: `dnsmasq for ${n.name}`, owner: n.name }) as Extract<
    Resource,
    { kind: 'process' }
  >;
  const v4 = spec.dhcp ? [`--dhcp-range=${spec.dhcp.start},${spec.dhcp.end},${formatIp(mask(spec.prefix))},1h`] : [];
  // dual stack: router advertisements of the /64 with the autonomous flag (SLAAC), every few seconds
  const v6 = spec.v6
    ? ['--enable-ra', `--dhcp-range=${spec.v6.subnet.split('/')[0]},ra-only,${spec.v6.prefix},1h`, '--ra-param=*,5']
    : [];
  const argv = [
    ...['ip', 'netns', 'exec', n.ns, 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv'],
    ...['--no-hosts', '--port=0', '--bind-interfaces', `--interface=${LAN_BRIDGE}`, '--except-interface=lo'],
    ...[`--listen-address=${spec.gateway}`, ...v4, ...v6, `--dhcp-leasefile=${n.leaseFile}`],
    ...['--dhcp-authoritative', '--no-ping', '--log-dhcp', `--log-facility=${join(n.dir, 'dnsmasq.log')}`],
    ...['--user=root', '--group=root', `--pid-file=${join(n.dir, 'dnsmasq.pid')}`],
  ];
  const proc = spawnDetached(argv, join(n.dir, 'dnsmasq.out'));
  store.note(() => {
    res.proc = proc;
  });
  await waitFor(() => existsSync(join(n.dir, 'dnsmasq.pid')) || !isAlive(proc), 5000);
  if (!isAlive(proc)) throw new HostError(`dnsmasq for ${n.name} exited at start: ${tail(join(n.dir, 'dnsmasq.out'))}`);
}

/**
 * The outer hypervisor's switch: each machine port gets an ebtables chain that accepts frames for the NIC's own
 * MAC and multicast/broadcast, and drops the rest unless the NIC is promiscuous. The switch agent follows the flag:
 * with ip link for namespace machines, over QMP (the virtio NIC's receive filter) for VMs.
 */
export async function macFiltering(lab: Lab, n: NsNetwork, store: StateStore, local: LocalExecutor): Promise<void> {
  if (!n.ports.length) return;
  // the switch's filter table in one ebtables-restore (the namespace is new: nothing else is in it). One ebtables call
  // costs ~10 ms of CPU; the ten of a two-port LAN took ~100 ms while the machines' daemons started, this ~15 ms.
  // Ports, chains and MACs are names virtlab made and MACs the lab's schema checked.
  const chains: string[] = [];
  const forward: string[] = [];
  const output: string[] = [];
  const accept: string[] = [];
  const watched: string[] = [];
  const machines = nsMachines(store);
  for (const p of n.ports) {
    const chain = `vl-${p.port}`;
    chains.push(`:${chain} DROP`);
    forward.push(`-A FORWARD -o ${p.port} -j ${chain}`);
    output.push(`-A OUTPUT -o ${p.port} -j ${chain}`);
    accept.push(`-A ${chain} -d ${p.mac} -j ACCEPT`, `-A ${chain} -d Multicast -j ACCEPT`);
    if (machines.find((m) => m.name === p.machine)?.data.vm) {
      // QEMU's NIC 0 is the management NIC; the lab's NICs follow in order
      const nic = lab.machines.find((m) => m.name === p.machine)!.nics.findIndex((x) => x.name === p.nic) + 1;
      watched.push(`vm:${p.machineNs}`, vmNicId(nic), chain);
    } else watched.push(p.machineNs, p.nic, chain);
  }
  const table = ['*filter', ':INPUT ACCEPT', ':FORWARD ACCEPT', ':OUTPUT ACCEPT', ...chains, ...forward, ...output];
  await local.run(['ip', 'netns', 'exec', n.ns, 'ebtables-restore'], {
    input: `${[...table, ...accept, 'COMMIT'].join('\n')}\n`,
  });
  const res = store.record({ kind: 'process', label: `switch agent for ${n.name}`, owner: n.name }) as Extract<
    Resource,
    { kind: 'process' }
  >;
  const log = join(n.dir, 'switch-agent.log');
  const argv = ['ip', 'netns', 'exec', n.ns, 'bash', SWITCH_AGENT, ...watched];
  const proc = spawnDetached(argv, log, { VIRTLAB_QMP_PORT: String(VM_QMP_PORT) }, true);
  store.note(() => {
    res.proc = proc;
  });
  await waitFor(() => /switch agent ready/.test(tail(log, 5)) || !isAlive(proc), 5000);
  if (!isAlive(proc)) throw new HostError(`the switch agent of ${n.name} exited: ${tail(log)}`);
}
