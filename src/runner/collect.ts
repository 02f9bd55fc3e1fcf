// Evidence: guests' console logs (always) and, on failure, the state of every machine and network.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { consoleText } from '../hypervisor/ops.ts';
import { dpkgVersionsArgv, parsePackages } from '../hypervisor/parse/packages.ts';
import { bootCount } from '../hypervisor/parse/virsh.ts';
import type { Session } from '../kinds/session.ts';

async function save(dir: string, name: string, fn: () => Promise<string>): Promise<string | undefined> {
  try {
    const text = await fn();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, name), text, { mode: 0o600 });
    return join(dir, name);
  } catch {
    return undefined;
  }
}

export async function collectConsoles(s: Session, reportDir: string): Promise<string[]> {
  const files = await Promise.all(
    s.lab.guests.map((g) =>
      save(join(reportDir, 'consoles'), `${g.name}.log`, () => consoleText(s.machines.get(g.on)!.exec, g.name)),
    ),
  );
  return files.filter((f): f is string => !!f);
}

/**
 * Guests whose saved console says something went wrong beneath the lab: booted more than once (no lab step reboots a
 * guest), or printed nothing at all (its boot hung before the first line).
 */
export function troubledGuests(consoleFiles: string[]): { rebooted: string[]; silent: string[] } {
  const text = consoleFiles.map((f) => ({ guest: basename(f, '.log'), text: readFileSync(f, 'utf8') }));
  return {
    rebooted: text.filter((x) => bootCount(x.text) > 1).map((x) => x.guest),
    silent: text.filter((x) => !x.text.trim()).map((x) => x.guest),
  };
}

/**
 * What a machine's kernel says when it stops working as a machine: a CPU stalled (RCU), locked up or a task
 * blocked for minutes, or a panic. Nested KVM under TCG does this now and then to a VM hypervisor.
 */
const KERNEL_STALL =
  /rcu: INFO: rcu_\w+ detected (?:expedited )?stalls|watchdog: BUG: soft lockup|INFO: task \S+ blocked for more than|Kernel panic - not syncing/;

/** The machines whose console (the kernel's own log) shows a stall, a lockup or a panic, with the first such line. */
export function stalledMachines(consoles: { machine: string; text: string }[]): { machine: string; line: string }[] {
  return consoles.flatMap((c) => {
    const line = c.text.split('\n').find((l) => KERNEL_STALL.test(l));
    return line ? [{ machine: c.machine, line: line.replace(/^\[\s*[\d.]+\]\s*/, '').trim() }] : [];
  });
}

const PROBE_MS = 5000;

async function answers(s: Session, machine: string): Promise<boolean> {
  // a timer of our own (AbortSignal.timeout's does not keep the process waiting for it)
  const ac = new AbortController();
  const signal = ac.signal;
  const timer = setTimeout(() => ac.abort(), PROBE_MS);
  const r = await s.machines
    .get(machine)!
    .exec.run(['true'], { check: false, timeoutMs: PROBE_MS, signal })
    .catch(() => undefined)
    .finally(() => clearTimeout(timer));
  // any answer counts (a machine without `true` still answers); a timeout or the probe's abort does not
  return r !== undefined && !r.timedOut && !signal.aborted;
}

export async function collectEvidence(s: Session, reportDir: string): Promise<string[]> {
  const base = join(reportDir, 'evidence');
  const jobs: Promise<string | undefined>[] = [];
  const run = (machine: string, argv: string[]) => async () => {
    const r = await s.machines.get(machine)!.exec.run(argv, { check: false, timeoutMs: 15000 });
    return r.stdout + (r.stderr ? `\n# stderr:\n${r.stderr}` : '');
  };
  // a machine that does not answer a trivial command at once (a VM that stalled) is named, not waited for
  const answering = await Promise.all(s.lab.machines.map((m) => answers(s, m.name)));
  for (const [i, m] of s.lab.machines.entries()) {
    const dir = join(base, m.name);
    if (!answering[i]) {
      jobs.push(save(dir, 'NOT-COLLECTED.txt', async () => `${m.name} did not answer within ${PROBE_MS / 1000} s\n`));
      continue;
    }
    jobs.push(save(dir, 'ip-addr.json', run(m.name, ['ip', '-j', '-d', 'addr'])));
    jobs.push(save(dir, 'ip-link.json', run(m.name, ['ip', '-j', '-s', 'link'])));
    jobs.push(save(dir, 'ip-neigh.json', run(m.name, ['ip', '-j', 'neigh'])));
    if (s.lab.networks.some((n) => n.v6))
      jobs.push(save(dir, 'ip-route6.json', run(m.name, ['ip', '-j', '-6', 'route'])));
    if (m.role === 'hypervisor') {
      jobs.push(save(dir, 'virsh-list.txt', run(m.name, ['virsh', 'list', '--all'])));
      jobs.push(save(dir, 'virsh-net-list.txt', run(m.name, ['virsh', 'net-list', '--all'])));
      jobs.push(save(dir, 'libvirtd.log', run(m.name, ['tail', '-n', '200', '/var/log/libvirt/libvirtd.log'])));
      for (const g of s.lab.guests.filter((x) => x.on === m.name))
        jobs.push(save(dir, `dumpxml-${g.name}.xml`, run(m.name, ['virsh', 'dumpxml', g.name])));
      for (const n of s.lab.libvirtNetworks.filter((x) => x.on === m.name))
        jobs.push(save(dir, `net-dumpxml-${n.name}.xml`, run(m.name, ['virsh', 'net-dumpxml', n.name])));
    }
  }
  for (const [name, u] of s.underlays) {
    jobs.push(save(join(base, `network-${name}`), 'leases', () => u.leases()));
    jobs.push(
      save(
        join(base, `network-${name}`),
        'bridge-fdb.json',
        async () => (await u.exec.run(['bridge', '-j', 'fdb', 'show'], { check: false })).stdout,
      ),
    );
  }
  return (await Promise.all(jobs)).filter((f): f is string => !!f);
}

export interface MachineVersions {
  kernel: string;
  distribution: string;
  libvirt?: string;
  qemu?: string;
  /** hypervisors: the exact Debian package versions of libvirt, QEMU, iptables, nftables, dnsmasq */
  packages?: Record<string, string>;
}

export async function machineVersions(s: Session, machine: string): Promise<MachineVersions> {
  const x = s.machines.get(machine)!.exec;
  const hv = s.machines.get(machine)!.role === 'hypervisor';
  // never long: a machine that does not answer leaves its versions out of the report
  const o = { check: false, timeoutMs: 15_000 };
  const [k, os, v, d] = await Promise.all([
    x.run(['uname', '-r'], o),
    x.run(['cat', '/etc/os-release'], o),
    hv ? x.run(['virsh', 'version'], o) : undefined,
    // not a Debian machine (an ssh host): no dpkg, no package versions
    hv ? x.run(dpkgVersionsArgv(), o) : undefined,
  ]);
  const packages = d ? parsePackages(d.stdout) : {};
  return {
    kernel: k.stdout.trim(),
    distribution: /PRETTY_NAME="?([^"\n]+)/.exec(os.stdout)?.[1] ?? 'unknown',
    libvirt: v ? /Using library: libvirt ([\d.]+)/.exec(v.stdout)?.[1] : undefined,
    qemu: v ? /Running hypervisor: QEMU ([\d.]+)/.exec(v.stdout)?.[1] : undefined,
    ...(Object.keys(packages).length ? { packages } : {}),
  };
}
