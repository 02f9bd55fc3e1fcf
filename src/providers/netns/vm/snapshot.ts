// Warm VM machines: the first boot of an image + kernel + machine shape saves the booted VM (QEMU's migration to a
// file, with a copy of its disk overlay) once sshd and libvirtd answer; later runs start QEMU from that state and
// make the machine theirs over ssh (reseed.sh: clock, entropy, hostname, keys, NIC MACs, names and addresses).
// A snapshot is keyed by everything its state depends on (image, kernel, QEMU binary, accelerator, RAM, vCPUs,
// NICs, role): a snapshot of another image or kernel is never used. It is saved inside the machine's folder (so an
// interrupted save goes with `down`) and moved into the cache whole.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, join } from 'node:path';
import { HostError } from '../../../errors.ts';
import type { Home } from '../../../host/home.ts';
import { packagePath } from '../../../host/package-root.ts';
import { pidExists } from '../../../host/proc.ts';
import type { Executor } from '../../../transport/executor.ts';
import { quoteArg } from '../../../transport/quote.ts';
import { SshExecutor } from '../../../transport/ssh.ts';
import { MGMT_NIC } from '../names.ts';
import type { VmState } from '../state.ts';
import { MAX_SOCKET_PATH, type Qmp } from './qmp.ts';

/** Bumped when what a snapshot holds or how it is re-seeded changes: older snapshots are then never used. */
const FORMAT = 2;

/**
 * Read into the page cache before a hypervisor's state is saved, so a restored machine has them in RAM: virt-install's
 * Python modules (imported by --version), QEMU with its libraries and firmware, virsh, qemu-img and sftp-server.
 * Under TCG this takes a guest's first launch inside the VM from ~11 s to ~6 s.
 */
const WARM_PAGE_CACHE = [
  'virt-install --version; virsh --version; qemu-img --version',
  'q=$(command -v qemu-system-x86_64) || exit 0',
  'cat "$q" $(ldd "$q" | awk \'/=>/ { print $3 }\') /usr/share/seabios/* /usr/lib/ipxe/qemu/* /usr/lib/openssh/sftp-server',
].join('\n');
const RESEED = packagePath('src', 'providers', 'netns', 'vm', 'reseed.sh');

export interface Snapshot {
  dir: string;
  key: string;
  created: string;
  format: number;
  /** the machine image's disk under the snapshot's overlay, and the QEMU binary that saved it (stat identities) */
  image: string;
  qemu: string;
  /** what the machine was: for doctor */
  kernel: string;
  shape: Shape;
  /** the management NIC's IPv6 link-local address in the snapshot (how a restored VM is reached before reseeding) */
  linkLocal: string;
  /** every NIC's MAC in the snapshot, in QEMU's order (the management NIC first) */
  macs: string[];
  /** the snapshot's sshd host key (public blob) */
  hostKey: string;
  /** the saved RAM and disk overlay, bytes */
  bytes: number;
}

export interface Shape {
  role: string;
  ram: number;
  vcpu: number;
  /** the lab's NICs (the management NIC comes on top) */
  nics: number;
}

export const snapshotsDir = (home: Home) => join(home.cache, 'vm-snapshots');
export const qmpSocketPath = (machineDir: string) => join(machineDir, 'qmp.sock');
/** A machine folder too deep for a unix socket has no host monitor: it boots cold every time. */
export const hasHostMonitor = (machineDir: string) => Buffer.byteLength(qmpSocketPath(machineDir)) <= MAX_SOCKET_PATH;

function fileId(path: string): string {
  const s = statSync(path);
  return `${path}:${s.size}:${s.mtimeMs}:${s.ino}`;
}

/** The QEMU binary the namespace runs (the same PATH). */
function qemuBinary(): string {
  for (const d of (process.env.PATH ?? '/usr/bin').split(delimiter)) {
    const p = join(d, 'qemu-system-x86_64');
    if (existsSync(p)) return p;
  }
  throw new HostError('qemu-system-x86_64 is not installed');
}

/** What a snapshot's state depends on: any change makes another key. */
export function snapshotInputs(vm: VmState, shape: Shape) {
  return {
    format: FORMAT,
    image: fileId(join(vm.image, 'disk.qcow2')),
    kernel: vm.kernel,
    kernelFile: vm.kernelFile ? fileId(vm.kernelFile) : undefined,
    qemu: fileId(qemuBinary()),
    accel: vm.accel,
    shape,
  };
}

export function snapshotKey(inputs: ReturnType<typeof snapshotInputs>): string {
  return createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 16);
}

/**
 * Removes the snapshots no run can use any more (their image rebuilt or gone, another QEMU binary, an older
 * format), and copies a crashed save left (`<key>.<pid>` of a dead process). Returns what it removed.
 */
export function pruneSnapshots(home: Home): string[] {
  const root = snapshotsDir(home);
  if (!existsSync(root)) return [];
  let qemu: string | undefined;
  try {
    qemu = fileId(qemuBinary());
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of readdirSync(root)) {
    const dir = join(root, name);
    const partial = /^[0-9a-f]{16}\.(\d+)$/.exec(name);
    let stale: boolean;
    if (partial) stale = !pidExists(Number(partial[1]));
    else {
      const s = findSnapshot(home, name);
      stale = !s || s.format !== FORMAT || s.qemu !== qemu || !sameFile(s.image);
    }
    if (!stale) continue;
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

function sameFile(id: string): boolean {
  const path = id.slice(0, id.indexOf(':'));
  try {
    return fileId(path) === id;
  } catch {
    return false;
  }
}

/** The saved snapshot for this key, if it is whole. */
export function findSnapshot(home: Home, key: string): Snapshot | undefined {
  const dir = join(snapshotsDir(home), key);
  try {
    const s = JSON.parse(readFileSync(join(dir, 'snapshot.json'), 'utf8')) as Omit<Snapshot, 'dir'>;
    const whole = ['state', 'disk.qcow2', 'key'].every((f) => existsSync(join(dir, f)));
    if (s.key !== key || s.format !== FORMAT || !whole) return undefined;
    return { ...s, dir };
  } catch {
    return undefined;
  }
}

/** Every snapshot in the cache (for doctor and the bench). */
/**
 * `virtlab prune --snapshots`: removes every saved VM state (whole, or a save cut short) except those a VM of an
 * instance that is up started from (its disk overlay is backed by the snapshot's disk). The next run of each image,
 * kernel and machine shape boots, and saves a new one.
 */
export function removeSnapshots(home: Home, inUse: Set<string>): { removed: string[]; kept: string[]; bytes: number } {
  const root = snapshotsDir(home);
  const out = { removed: [] as string[], kept: [] as string[], bytes: 0 };
  if (!existsSync(root)) return out;
  for (const name of readdirSync(root)) {
    const dir = join(root, name);
    const partial = /^[0-9a-f]{16}\.(\d+)$/.exec(name);
    if (inUse.has(name) || (partial && pidExists(Number(partial[1])))) {
      out.kept.push(dir);
      continue;
    }
    for (const f of readdirSync(dir)) out.bytes += statSync(join(dir, f)).size;
    rmSync(dir, { recursive: true, force: true });
    out.removed.push(dir);
  }
  return out;
}

export function listSnapshots(home: Home): Snapshot[] {
  const root = snapshotsDir(home);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((k) => findSnapshot(home, k))
    .filter((s): s is Snapshot => !!s);
}

/** The files a restore starts QEMU from. */
export const snapshotFiles = (s: Snapshot) => ({
  state: join(s.dir, 'state'),
  disk: join(s.dir, 'disk.qcow2'),
  key: join(s.dir, 'key'),
});

async function linkLocalOf(exec: Executor): Promise<string | undefined> {
  const r = await exec.run(['ip', '-6', '-o', 'addr', 'show', 'dev', MGMT_NIC, 'scope', 'link'], { check: false });
  return /inet6 (fe80::[0-9a-f:]+)\/64/.exec(r.stdout)?.[1];
}

/**
 * Saves the running VM: pauses it, writes its RAM and devices to a file and copies its disk overlay, then lets it
 * run on. The run's key pair goes with it (the restored VM authorises it until reseeded). Returns undefined, with
 * the reason, when this VM cannot be snapshotted.
 */
export async function saveSnapshot(
  qmp: Qmp,
  exec: Executor,
  o: {
    home: Home;
    inputs: ReturnType<typeof snapshotInputs>;
    machineDir: string;
    macs: string[];
    hostKey: string;
    keyFile: string;
  },
): Promise<{ snapshot?: Snapshot; why?: string; pausedMs?: number }> {
  const linkLocal = await linkLocalOf(exec);
  if (!linkLocal) return { why: `${MGMT_NIC} has no IPv6 link-local address to reach a restored copy on` };
  if (o.inputs.shape.role === 'hypervisor')
    await exec.run(['sh', '-c', `{ ${WARM_PAGE_CACHE}\n} >/dev/null 2>&1; true`], { check: false, timeoutMs: 60_000 });
  const tmp = join(o.machineDir, 'snapshot');
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { mode: 0o700 });
  const t0 = performance.now();
  await qmp.execute('stop');
  try {
    await qmp.execute('migrate', { uri: `exec:cat > ${quoteArg(join(tmp, 'state'))}` });
    for (;;) {
      const m = await qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
      if (m.status === 'completed') break;
      if (m.status === 'failed' || m.status === 'cancelled')
        throw new HostError(`saving the VM failed: ${m['error-desc'] ?? m.status}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // the guest is paused and QEMU has written its caches out: the overlay matches the saved RAM
    copyFileSync(join(o.machineDir, 'disk.qcow2'), join(tmp, 'disk.qcow2'));
  } finally {
    await qmp.execute('cont');
  }
  const pausedMs = Math.round(performance.now() - t0);
  copyFileSync(o.keyFile, join(tmp, 'key'));
  chmodSync(join(tmp, 'key'), 0o600);
  const bytes = ['state', 'disk.qcow2'].reduce((n, f) => n + statSync(join(tmp, f)).size, 0);
  const key = snapshotKey(o.inputs);
  const meta: Omit<Snapshot, 'dir'> = {
    key,
    created: new Date().toISOString(),
    format: FORMAT,
    image: o.inputs.image,
    qemu: o.inputs.qemu,
    kernel: o.inputs.kernel,
    shape: o.inputs.shape,
    linkLocal,
    macs: o.macs,
    hostKey: o.hostKey,
    bytes,
  };
  writeFileSync(join(tmp, 'snapshot.json'), `${JSON.stringify(meta, null, 2)}\n`);
  pruneSnapshots(o.home);
  const dir = join(snapshotsDir(o.home), key);
  mkdirSync(snapshotsDir(o.home), { recursive: true, mode: 0o700 });
  if (existsSync(dir)) {
    // another run saved the same snapshot first
    rmSync(tmp, { recursive: true, force: true });
    return { snapshot: findSnapshot(o.home, key), pausedMs };
  }
  try {
    renameSync(tmp, dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    // the cache lives on another file system: copy beside it, then rename (whole or not at all)
    cpSync(tmp, `${dir}.${process.pid}`, { recursive: true });
    renameSync(`${dir}.${process.pid}`, dir);
    rmSync(tmp, { recursive: true, force: true });
  }
  return { snapshot: { ...meta, dir }, pausedMs };
}

/** A snapshot is saved paused, and QEMU restores it paused: once QEMU has read it in, the VM is let run. */
export async function resumeRestored(qmp: Qmp, deadlineMs: number, signal: AbortSignal): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    signal.throwIfAborted();
    const { status } = await qmp.execute<{ status: string }>('query-status');
    if (status === 'running') return;
    if (status === 'paused') {
      await qmp.execute('cont');
      return;
    }
    if (status !== 'inmigrate') throw new HostError(`the restored VM is ${status}, not paused`);
    if (Date.now() > until) throw new HostError(`QEMU did not read the snapshot in ${deadlineMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Makes a VM restored from a snapshot this run's: reaches it on the snapshot's link-local address through this
 * run's management veth, with the snapshot's key, and runs reseed.sh with this run's seed.
 */
export async function reseed(
  s: Snapshot,
  o: { machine: string; mgmtLink: string; seedTar: string; deadlineMs: number; signal: AbortSignal },
): Promise<void> {
  const exec = new SshExecutor({
    machine: o.machine,
    host: `${s.linkLocal}%${o.mgmtLink}`,
    privateKey: readFileSync(snapshotFiles(s).key),
    hostKey: s.hostKey,
  });
  try {
    await exec.connect({ deadlineMs: o.deadlineMs, signal: o.signal });
    const argv = ['sh', '-c', readFileSync(RESEED, 'utf8'), 'virtlab-reseed', String(Math.floor(Date.now() / 1000))];
    await exec.run([...argv, ...s.macs], {
      input: readFileSync(o.seedTar).toString('base64'),
      timeoutMs: o.deadlineMs,
      signal: o.signal,
    });
  } finally {
    await exec.close();
  }
}
