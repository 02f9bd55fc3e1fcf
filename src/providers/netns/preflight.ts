// Host checks for the netns provider (also `virtlab doctor`): all problems at once, each with what to do.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { home } from '../../host/home.ts';
import { which } from '../../host/which.ts';
import { LocalExecutor } from '../../transport/local.ts';
import type { Problem } from '../port.ts';

/** binary -> Debian package that provides it */
export const BINARIES: Record<string, { pkg: string; hypervisorOnly?: boolean }> = {
  ip: { pkg: 'iproute2' },
  dnsmasq: { pkg: 'dnsmasq-base' },
  sshd: { pkg: 'openssh-server' },
  'ssh-keygen': { pkg: 'openssh-client' },
  unshare: { pkg: 'util-linux' },
  tini: { pkg: 'tini' },
  tcpdump: { pkg: 'tcpdump' },
  ebtables: { pkg: 'iptables' },
  'ebtables-restore': { pkg: 'iptables' },
  bridge: { pkg: 'iproute2' },
  ping: { pkg: 'iputils-ping' },
  libvirtd: { pkg: 'libvirt-daemon-system', hypervisorOnly: true },
  virsh: { pkg: 'libvirt-clients', hypervisorOnly: true },
  'virt-install': { pkg: 'virtinst', hypervisorOnly: true },
  'qemu-system-x86_64': { pkg: 'qemu-system-x86', hypervisorOnly: true },
  'qemu-img': { pkg: 'qemu-utils', hypervisorOnly: true },
};

/**
 * The host's problems for a run. `remember`: the kernel's link types, once they all worked, are not probed again
 * until the host reboots (six `ip` commands, ~80 ms of every run); doctor always probes.
 */
export async function hostProblems(needHypervisor: boolean, remember = false): Promise<Problem[]> {
  const problems: Problem[] = [];
  if (process.getuid?.() !== 0)
    problems.push({
      what: 'virtlab must run as root (it creates network namespaces and runs libvirtd)',
      hint: 'run it with sudo, or as root',
    });
  const missing = Object.entries(BINARIES).filter(([b, i]) => (needHypervisor || !i.hypervisorOnly) && !which(b));
  if (missing.length) {
    const pkgs = [...new Set(missing.map(([, i]) => i.pkg))];
    problems.push({
      what: `missing programs: ${missing.map(([b, i]) => `${b} (package ${i.pkg})`).join(', ')}`,
      hint: `apt-get install -y ${pkgs.join(' ')}`,
    });
  }
  if (!existsSync('/proc/self/ns/net'))
    problems.push({ what: 'the kernel has no network namespaces', hint: 'use a kernel with CONFIG_NET_NS' });
  if (needHypervisor && !existsSync('/dev/net/tun'))
    problems.push({ what: '/dev/net/tun is missing', hint: 'load the tun module (modprobe tun)' });
  if (problems.length || !which('ip')) return problems;
  const seen = remember ? featuresSeen(needHypervisor) : undefined;
  if (seen?.known) return problems;
  const features = await kernelFeatures(needHypervisor);
  if (!features.length) seen?.remember();
  problems.push(...features);
  return problems;
}

/** Whether this boot of the kernel already created every link type a run needs (a file in the cache). */
function featuresSeen(needHypervisor: boolean): { known: boolean; remember: () => void } {
  const file = join(home().cache, 'kernel-features');
  let boot: string;
  try {
    boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return { known: false, remember: () => {} };
  }
  const line = `${boot} ${needHypervisor ? 'hypervisor' : 'peer'}`;
  let lines: string[] = [];
  try {
    lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith(`${boot} `));
  } catch {
    /* never probed */
  }
  const known = lines.includes(line) || lines.includes(`${boot} hypervisor`);
  return {
    known,
    remember: () => {
      try {
        mkdirSync(home().cache, { recursive: true });
        writeFileSync(`${file}.${process.pid}`, `${[...new Set([...lines, line])].join('\n')}\n`);
        renameSync(`${file}.${process.pid}`, file);
      } catch {
        /* a cache: the next run probes again */
      }
    },
  };
}

/** Creates each kind of link the labs need in a scratch namespace, and removes it. */
async function kernelFeatures(needHypervisor: boolean): Promise<Problem[]> {
  const local = new LocalExecutor('host');
  // unique per call: a matrix runs several preflights at once in one process
  const ns = `vl-preflight-${process.pid}-${randomBytes(3).toString('hex')}`;
  const add = await local.run(['ip', 'netns', 'add', ns], { check: false });
  if (add.exitCode !== 0)
    return [
      {
        what: `cannot create a network namespace: ${add.stderr.trim()}`,
        hint: 'are you root in the initial namespaces?',
      },
    ];
  try {
    const tests: [string, string[]][] = [
      ['veth', ['link', 'add', 'vt0', 'type', 'veth', 'peer', 'name', 'vt1']],
      ['bridge', ['link', 'add', 'vb0', 'type', 'bridge']],
      ...(needHypervisor
        ? ([
            ['macvtap', ['link', 'add', 'link', 'vt0', 'name', 'vm0', 'type', 'macvtap', 'mode', 'bridge']],
            ['ifb', ['link', 'add', 'vi0', 'type', 'ifb']],
          ] as [string, string[]][])
        : []),
    ];
    const problems: Problem[] = [];
    for (const [feature, argv] of tests) {
      const r = await local.run(['ip', '-n', ns, ...argv], { check: false });
      if (r.exitCode !== 0)
        problems.push({
          what: `the kernel cannot create ${feature} links: ${r.stderr.trim()}`,
          hint: `load the ${feature} module (modprobe ${feature})`,
        });
    }
    return problems;
  } finally {
    await local.run(['ip', 'netns', 'delete', ns], { check: false });
  }
}
