// The files that make a netns machine: its init script, sshd config and private libvirt configuration.
import { appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MachineLayout {
  dir: string;
  root: string;
  tmp: string;
  ssh: string;
  etcLibvirt: string;
  varLibLibvirt: string;
  cacheLibvirt: string;
  logLibvirt: string;
  init: string;
  initLog: string;
}

export function layout(dir: string): MachineLayout {
  return {
    dir,
    root: join(dir, 'root'),
    tmp: join(dir, 'tmp'),
    ssh: join(dir, 'ssh'),
    etcLibvirt: join(dir, 'etc-libvirt'),
    varLibLibvirt: join(dir, 'var-lib-libvirt'),
    cacheLibvirt: join(dir, 'cache-libvirt'),
    logLibvirt: join(dir, 'log-libvirt'),
    init: join(dir, 'init.sh'),
    initLog: join(dir, 'init.log'),
  };
}

// Values only ever come from validated names and paths we generated; still, quote for bash.
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The machine's own folders that are host folders bind-mounted over the host's: the layout's folder, the path inside. */
const OWN_FOLDERS: { host: keyof MachineLayout; inside: string; hypervisor?: true }[] = [
  { host: 'root', inside: '/root' },
  { host: 'tmp', inside: '/tmp' },
  { host: 'etcLibvirt', inside: '/etc/libvirt', hypervisor: true },
  { host: 'varLibLibvirt', inside: '/var/lib/libvirt', hypervisor: true },
  { host: 'cacheLibvirt', inside: '/var/cache/libvirt', hypervisor: true },
  { host: 'logLibvirt', inside: '/var/log/libvirt', hypervisor: true },
];

const ownFolders = (hypervisor: boolean) => OWN_FOLDERS.filter((f) => hypervisor || !f.hypervisor);

/** [host folder, path inside] of each bind mount. */
export function binds(l: MachineLayout, hypervisor: boolean): [string, string][] {
  return ownFolders(hypervisor).map((f) => [l[f.host], f.inside]);
}

/** Where a path of the machine's own folders lives on the host (undefined: not one of them, or /run, a tmpfs). */
export function hostPathOf(
  l: MachineLayout,
  hypervisor: boolean,
  path: string,
): { path: string; root: string } | undefined {
  if (path.split('/').includes('..')) return undefined;
  for (const [from, to] of binds(l, hypervisor))
    if (path.startsWith(`${to}/`)) return { path: `${from}${path.slice(to.length)}`, root: from };
  return undefined;
}

/** The folders a namespace machine has of its own (bind mounts and a tmpfs over the host's); the rest is the host's. */
export function privatePaths(hypervisor: boolean): string[] {
  const inside = ownFolders(hypervisor).map((f) => f.inside);
  // /run is a tmpfs of the machine's own, after /root and /tmp (the order messages list them in)
  return [...inside.slice(0, 2), '/run', ...inside.slice(2)];
}

export function initScript(l: MachineLayout, name: string, hypervisor: boolean): string {
  return [
    '#!/bin/bash',
    "# virtlab machine init: runs as PID 1 child of tini in the machine's own net, mount, UTS and PID namespaces",
    'set -eu',
    `hostname ${q(name)}`,
    'mount -t tmpfs -o mode=0755,size=64m virtlab-run /run',
    'mkdir -p /run/sshd /run/libvirt /run/lock',
    ...binds(l, hypervisor).map(([from, to]) => `mount --bind ${q(from)} ${q(to)}`),
    // no polkit here: virsh on a terminal would start pkttyagent, which only prints "Authorization not available"
    // (hidden in this machine's own mount namespace; the host keeps it)
    'if [ -x /usr/bin/pkttyagent ]; then mount --bind /dev/null /usr/bin/pkttyagent; fi',
    // sshd first: virtlab connects while libvirtd initialises (its parent returns once it is ready, ~0.1 s)
    `/usr/sbin/sshd -f ${q(join(l.ssh, 'sshd_config'))} -E ${q(join(l.ssh, 'sshd.log'))} </dev/null >/dev/null 2>&1`,
    // libvirtd on one CPU (the first this machine may use): its QEMU capabilities cache records the host's CPUID, and
    // a leaf (0x1f: the x2APIC ID of the CPU that asks) differs between CPUs, so a cache written on one CPU and read
    // on another was thrown away and QEMU probed again (1.3 s, every other run). QEMU itself runs on every CPU:
    // libvirt sets a guest's affinity to all host CPUs when its XML names none.
    ...(hypervisor
      ? [
          // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansions, not a template
          'cpu=$(taskset -pc $$); cpu=${cpu##*: }; cpu=${cpu%%[,-]*}',
          'taskset -c "$cpu" /usr/sbin/libvirtd -d -p /run/libvirt/libvirtd.pid </dev/null >/dev/null 2>&1',
        ]
      : []),
    'echo virtlab-machine-ready',
    'exec sleep infinity',
    '',
  ].join('\n');
}

export function sshdConfig(l: MachineLayout, listen: string): string {
  return [
    `ListenAddress ${listen}`,
    'Port 22',
    `HostKey ${join(l.ssh, 'host_ed25519')}`,
    'PidFile /run/sshd.pid',
    `AuthorizedKeysFile ${join(l.ssh, 'authorized_keys')}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'PrintMotd no',
    'PrintLastLog no',
    'UseDNS no',
    'MaxSessions 32',
    'MaxStartups 64',
    'KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org',
    'Subsystem sftp internal-sftp',
    'LogLevel ERROR',
    '',
  ].join('\n');
}

/** What each machine's private libvirt needs to work inside a namespace (see HOST-NOTES). */
export const QEMU_CONF = `
# --- virtlab: private libvirt inside a network namespace ---
user = "root"
group = "root"
remember_owner = 0
dynamic_ownership = 0
stdio_handler = "file"
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
`;

export const LIBVIRTD_CONF = `
# --- virtlab ---
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
`;

/** Creates the private folders; a hypervisor gets a copy of the host's /etc/libvirt without autostarted objects. */
export function prepareDirs(l: MachineLayout, hypervisor: boolean, warmCache?: string): void {
  for (const d of [l.root, l.tmp, l.ssh]) mkdirSync(d, { recursive: true, mode: 0o700 });
  if (!hypervisor) return;
  cpSync('/etc/libvirt', l.etcLibvirt, { recursive: true });
  for (const d of ['qemu/networks/autostart', 'qemu/autostart', 'storage/autostart']) {
    const p = join(l.etcLibvirt, d);
    if (existsSync(p)) for (const f of readdirSync(p)) rmSync(join(p, f), { force: true });
  }
  appendFileSync(join(l.etcLibvirt, 'qemu.conf'), QEMU_CONF);
  appendFileSync(join(l.etcLibvirt, 'libvirtd.conf'), LIBVIRTD_CONF);
  for (const d of [l.varLibLibvirt, join(l.varLibLibvirt, 'images'), l.cacheLibvirt, join(l.logLibvirt, 'qemu')])
    mkdirSync(d, { recursive: true });
  // a warm QEMU capabilities cache turns libvirt's first connection from ~8 s into ~0.6 s
  if (warmCache && existsSync(warmCache)) cpSync(warmCache, l.cacheLibvirt, { recursive: true });
}

export function writeMachineFiles(
  l: MachineLayout,
  name: string,
  hypervisor: boolean,
  listen: string,
  authorizedKey: string,
): void {
  writeFileSync(l.init, initScript(l, name, hypervisor), { mode: 0o700 });
  writeFileSync(join(l.ssh, 'sshd_config'), sshdConfig(l, listen), { mode: 0o600 });
  writeFileSync(join(l.ssh, 'authorized_keys'), authorizedKey, { mode: 0o600 });
}
