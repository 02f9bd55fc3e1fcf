// Guest images by logical name: the official CirrOS release (downloaded once, checksum-verified) when the network
// allows, otherwise the virtlab test guest built offline from Debian packages.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HostError } from '../errors.ts';
import type { Emit } from '../report/events.ts';
import type { CommandClock } from '../transport/executor.ts';
import { LocalExecutor } from '../transport/local.ts';
import { readConfig } from './config.ts';
import { download } from './download.ts';
import type { Home } from './home.ts';
import { packagePath } from './package-root.ts';

/** A guest image as a lab names it: cirros, or cirros@0.3.2. */
export interface ImageName {
  name: string;
  version?: string;
  ref: string;
}

export interface ResolvedImage {
  ref: string;
  path: string;
  /** what actually runs, for the report */
  source: string;
  /** kernel and initramfs for direct kernel boot (the virtlab test guest has them) */
  kernel?: string;
  initrd?: string;
  /** console login, when the image needs one */
  login?: { user: string; password: string };
}

export const CIRROS_MIRROR = 'https://download.cirros-cloud.net';
const buildScript = packagePath('scripts', 'build-guest-image.sh');

export function cirrosLogin(version: string): { user: string; password: string } {
  return version.startsWith('0.3.')
    ? { user: 'cirros', password: 'cubswin:)' }
    : { user: 'cirros', password: 'gocubsgo' };
}

/**
 * What the image script's "up to date" answer rests on, as file facts that cost no process: the script, the
 * installed packages (busybox, syslinux, iperf3 and apt's choice of kernel all change dpkg's status file), the kernel
 * packages kept in the cache, the built image and the script's own record of its inputs.
 */
export function imageInputsStamp(home: Home, cached: string): string {
  const facts = [buildScript, '/var/lib/dpkg/status', join(home.cache, 'debs'), cached]
    .concat(['cirros.inputs', 'kernel-pkg'].map((f) => join(home.images, f)))
    .map((p) => {
      try {
        const st = statSync(p);
        return `${st.size}:${st.mtimeMs}:${st.ino}`;
      } catch {
        return '-';
      }
    });
  return [...facts, process.env.GUEST_KERNEL_PKG ?? '', process.env.PATH ?? ''].join(' ');
}

/** Builds (or finds cached) the virtlab test guest. */
export async function localGuest(home: Home, emit: Emit, clock?: CommandClock): Promise<string> {
  const cached = join(home.images, 'cirros.qcow2');
  // the script found the image up to date, and nothing it looks at changed since: no need to ask it again (40 ms)
  const checked = join(home.images, 'cirros.checked');
  const stamp = imageInputsStamp(home, cached);
  if (existsSync(checked) && readFileSync(checked, 'utf8') === stamp) return cached;
  const r = await new LocalExecutor('host', clock).run(['bash', buildScript], {
    env: { VIRTLAB_HOME: home.root, VIRTLAB_CACHE: home.cache },
    check: false,
    timeoutMs: 600000,
  });
  if (r.exitCode !== 0)
    throw new HostError(
      `cannot build the guest image: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`,
      'run scripts/build-guest-image.sh by hand to see why',
    );
  if (/building/.test(r.stderr))
    emit({ type: 'log', level: 'info', message: `built the test guest image (${cached})` });
  const path = r.stdout.trim().split('\n').pop() || cached;
  if (path === cached) {
    writeFileSync(`${checked}.${process.pid}`, imageInputsStamp(home, cached));
    renameSync(`${checked}.${process.pid}`, checked);
  }
  return path;
}

/** Downloads an official CirrOS image and verifies it against the release's checksum file. */
export async function downloadCirros(
  version: string,
  dir: string,
  mirror = readConfig().cirrosMirror,
  timeoutMs = 15000,
): Promise<string> {
  const file = `cirros-${version}-x86_64-disk.img`;
  const dest = join(dir, file);
  if (existsSync(dest)) return dest;
  mkdirSync(dir, { recursive: true });
  const get = (url: string) => download(url, timeoutMs);
  let sums: string;
  let algo: 'sha256' | 'md5' = 'sha256';
  try {
    sums = (await get(`${mirror}/${version}/SHA256SUMS`)).toString();
  } catch {
    algo = 'md5';
    sums = (await get(`${mirror}/${version}/MD5SUMS`)).toString();
  }
  const expected = sums
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f[1]?.replace(/^\*/, '') === file)?.[0];
  if (!expected) throw new HostError(`the checksum file of CirrOS ${version} does not list ${file}`);
  const data = await get(`${mirror}/${version}/${file}`);
  const actual = createHash(algo).update(data).digest('hex');
  if (actual !== expected.toLowerCase())
    throw new HostError(
      `download of ${file} is corrupted: ${algo} ${actual}, expected ${expected}`,
      'the file was not kept; try again',
    );
  writeFileSync(`${dest}.part`, data);
  renameSync(`${dest}.part`, dest);
  return dest;
}

export async function resolveImage(
  img: ImageName,
  home: Home,
  emit: Emit,
  clock?: CommandClock,
): Promise<ResolvedImage> {
  if (img.name !== 'cirros') throw new HostError(`no source for image ${img.ref}`);
  if (!img.version) {
    const path = await localGuest(home, emit, clock);
    return {
      ref: img.ref,
      path,
      kernel: join(home.images, 'cirros-vmlinuz'),
      initrd: join(home.images, 'cirros-initrd.gz'),
      source: 'virtlab test guest (Debian cloud kernel + busybox)',
    };
  }
  try {
    const path = await downloadCirros(img.version, join(home.images, 'cirros-official'));
    return {
      ref: img.ref,
      path,
      source: `CirrOS ${img.version} (official image, checksum verified)`,
      login: cirrosLogin(img.version),
    };
  } catch (e) {
    emit({
      type: 'log',
      level: 'warn',
      message: `CirrOS ${img.version} is not available (${(e as Error).message}); the virtlab test guest stands in`,
    });
    return {
      ref: img.ref,
      path: await localGuest(home, emit, clock),
      kernel: join(home.images, 'cirros-vmlinuz'),
      initrd: join(home.images, 'cirros-initrd.gz'),
      source: `virtlab test guest standing in for CirrOS ${img.version} (offline)`,
    };
  }
}
