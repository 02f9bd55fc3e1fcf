// Operations on a hypervisor machine through its Executor, each error saying what we were doing.
import { wrap } from '../errors.ts';
import { TIMEOUTS } from '../host/config.ts';
import { type Guest, qemuMacvtapName } from '../lab/model.ts';
import type { Executor } from '../transport/executor.ts';
import * as cmd from './commands.ts';
import { type Lease, parseVirshLeases } from './parse/leases.ts';
import { type DomIface, type LinkInfo, parseDomiflist, parseIpAddrJson } from './parse/virsh.ts';

async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw wrap(what, e);
  }
}

export const defineNetwork = (x: Executor, network: string, remoteXml: string) =>
  step(`define network "${network}" on ${x.machine}`, () => x.run(cmd.netDefine(remoteXml)));

export const startNetwork = (x: Executor, network: string) =>
  step(`start network "${network}" on ${x.machine}`, () => x.run(cmd.netStart(network)));

export const setPromisc = (x: Executor, nic: string, state: 'on' | 'off') =>
  step(`set promiscuous mode ${state} on ${nic} of ${x.machine}`, () => x.run(cmd.promisc(nic, state)));

export async function launchGuest(x: Executor, g: Guest, virtType: 'qemu' | 'kvm' = 'qemu'): Promise<void> {
  await step(`create the disk of guest "${g.name}" on ${x.machine}`, () => x.run(cmd.guestDisk(g)));
  if (g.qemu) {
    await step(`launch guest "${g.name}" with bare QEMU on ${x.machine}`, () =>
      x.run(cmd.qemuMacvtap(g, qemuMacvtapName(g.name), virtType === 'kvm' ? 'kvm' : 'tcg'), {
        timeoutMs: TIMEOUTS.bareQemuMs,
      }),
    );
    return;
  }
  await step(`launch guest "${g.name}" on ${x.machine}`, () =>
    x.run(cmd.virtInstall(g, virtType), { timeoutMs: TIMEOUTS.virtInstallMs }),
  );
}

export async function domIfaces(x: Executor, guest: string): Promise<{ ifaces: DomIface[]; stdout: string }> {
  const r = await x.run(cmd.domiflist(guest));
  return { ifaces: parseDomiflist(r.stdout), stdout: r.stdout };
}

export async function linkInfo(
  x: Executor,
  dev: string,
): Promise<{ link?: LinkInfo; stdout: string; exitCode: number }> {
  const r = await x.run(['ip', '-j', '-d', 'addr', 'show', 'dev', dev], { check: false });
  return {
    link: r.exitCode === 0 ? parseIpAddrJson(r.stdout)[0] : undefined,
    stdout: r.stdout || r.stderr,
    exitCode: r.exitCode,
  };
}

export async function consoleText(x: Executor, guest: string): Promise<string> {
  const r = await x.run(['cat', cmd.consoleLogPath(guest)], { check: false });
  return r.exitCode === 0 ? r.stdout : '';
}

export async function libvirtLeases(x: Executor, network: string): Promise<{ leases: Lease[]; stdout: string }> {
  const r = await x.run(['virsh', 'net-dhcp-leases', network]);
  return { leases: parseVirshLeases(r.stdout), stdout: r.stdout };
}

/** A domain's UUID (undefined when libvirt does not know it). */
export async function domainUuid(x: Executor, guest: string): Promise<string | undefined> {
  const r = await x.run(['virsh', 'domuuid', guest], { check: false });
  return r.exitCode === 0 ? r.stdout.trim() || undefined : undefined;
}

export async function networkUuid(x: Executor, network: string): Promise<string | undefined> {
  const r = await x.run(['virsh', 'net-uuid', network], { check: false });
  return r.exitCode === 0 ? r.stdout.trim() || undefined : undefined;
}
