// Every environment variable virtlab reads, in one table (README and `virtlab doctor --json` list it), and every
// wait it makes, in one Timeouts object with one speed factor for machines that are VMs.

export interface EnvVar {
  name: string;
  default: string;
  meaning: string;
}

export const ENVIRONMENT: readonly EnvVar[] = [
  { name: 'VIRTLAB_HOME', default: '/var/lib/virtlab', meaning: 'state files, run folders and caches' },
  {
    name: 'VIRTLAB_CACHE',
    default: '$VIRTLAB_HOME/cache',
    meaning: 'guest and machine images, downloads, warm libvirt caches',
  },
  {
    name: 'VIRTLAB_ROOT',
    default: 'the current folder if it has labs/, else the package',
    meaning: 'the project folder (labs/, machines.yml, playbooks/); --project sets it for one command',
  },
  {
    name: 'VIRTLAB_READY_TIMEOUT',
    default: '45',
    meaning: 'seconds a guest may take to hold a lease and print its ready line',
  },
  {
    name: 'VIRTLAB_RETRY',
    default: '1',
    meaning: '0: never run a lab a second time after a machine died or a nested guest hung',
  },
  {
    name: 'VIRTLAB_VM_SLOTS',
    default: 'cores / 4 (at least 1)',
    meaning: 'how many labs with VM machines run at once',
  },
  {
    name: 'VIRTLAB_VM_ACCEL',
    default: 'kvm where it works, else tcg',
    meaning: 'how the VM machines are accelerated: tcg or kvm',
  },
  {
    name: 'VIRTLAB_VM_SNAPSHOTS',
    default: '1',
    meaning: '0: VM machines always boot, never start from (or save) a snapshot of a booted VM',
  },
  {
    name: 'VIRTLAB_GUEST_VIRT',
    default: 'kvm where it works inside a VM machine',
    meaning: 'qemu: guests inside VM machines always run under TCG',
  },
  {
    name: 'VIRTLAB_CIRROS_MIRROR',
    default: 'https://download.cirros-cloud.net',
    meaning: 'where official CirrOS images are downloaded from',
  },
  {
    name: 'VIRTLAB_MIRROR',
    default: 'http://deb.debian.org/debian',
    meaning: 'the Debian mirror the VM machine image is built from',
  },
  {
    name: 'VIRTLAB_SECURITY_MIRROR',
    default: 'http://deb.debian.org/debian-security',
    meaning: "Debian's security updates for the VM machine image",
  },
  { name: 'NO_COLOR', default: '(unset)', meaning: 'any value: no colours in the console' },
];

export interface Config {
  home: string;
  cache: string;
  /** the project folder, when set */
  root?: string;
  readyTimeoutMs: number;
  retry: boolean;
  /** forced number of VM slots */
  vmSlots?: number;
  vmAccel?: 'tcg' | 'kvm';
  /** VM machines start from a saved booted state when the cache has one (and save one after a cold boot) */
  vmSnapshots: boolean;
  /** 'qemu' forces TCG for guests inside VM machines */
  guestVirt?: 'qemu';
  cirrosMirror: string;
  noColor: boolean;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const home = env.VIRTLAB_HOME || '/var/lib/virtlab';
  const ready = Number(env.VIRTLAB_READY_TIMEOUT);
  const slots = Number(env.VIRTLAB_VM_SLOTS);
  const accel = env.VIRTLAB_VM_ACCEL;
  return {
    home,
    cache: env.VIRTLAB_CACHE || `${home}/cache`,
    root: env.VIRTLAB_ROOT || undefined,
    readyTimeoutMs: (Number.isFinite(ready) && ready > 0 ? ready : 45) * 1000,
    retry: env.VIRTLAB_RETRY !== '0',
    vmSlots: Number.isInteger(slots) && slots > 0 ? slots : undefined,
    vmAccel: accel === 'tcg' || accel === 'kvm' ? accel : undefined,
    vmSnapshots: env.VIRTLAB_VM_SNAPSHOTS !== '0',
    guestVirt: env.VIRTLAB_GUEST_VIRT === 'qemu' ? 'qemu' : undefined,
    cirrosMirror: env.VIRTLAB_CIRROS_MIRROR || 'https://download.cirros-cloud.net',
    noColor: !!env.NO_COLOR,
  };
}

/**
 * Every wait, for a machine that is a namespace on this host. A machine that is a VM (and a guest inside one) runs
 * emulated under TCG and answers slower: its waits are VM_SPEED times as long (see `scaled`).
 */
export const TIMEOUTS = {
  /** a `command` step on a machine */
  stepCommandMs: 300_000,
  /** a command inside a guest, over its serial console */
  consoleCommandMs: 60_000,
  /** a check step, or a command in a guest, waits this long for the guest to boot */
  guestBootMs: 60_000,
  virtInstallMs: 120_000,
  bareQemuMs: 60_000,
  /** one ping: its base time plus this much per echo request */
  pingBaseMs: 8_000,
  pingPerEchoMs: 2_000,
  /** seconds ping waits for each reply (`ping -W`) */
  pingReplyS: 1,
  /** one command collecting evidence */
  evidenceMs: 15_000,
  /** a namespace machine's sshd answering after its init started */
  machineConnectMs: 20_000,
  /** a VM machine booting until its sshd answers (a boot, not a slower command: not scaled) */
  vmBootMs: 240_000,
  /** libvirtd answering on a hypervisor */
  libvirtUpMs: 30_000,
  /** a playbook task; package installs get longer */
  taskMs: 600_000,
  packageInstallMs: 900_000,
  /** a capture (tcpdump) waiting for its first packet */
  captureS: 10,
} as const;

/** How much longer a VM machine, or a guest inside one, may take for the same work. */
export const VM_SPEED = 4;

export function scaled(ms: number, vm: boolean): number {
  return vm ? ms * VM_SPEED : ms;
}

/** How many labs with VM machines run at once: one per 4 cores (at least one), unless VIRTLAB_VM_SLOTS says. */
export function vmSlotCount(forced: number | undefined, cores: number): number {
  return forced ?? Math.max(1, Math.floor(cores / 4));
}
