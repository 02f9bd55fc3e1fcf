// The machine image of VM machines: built by scripts/build-vm-image.sh from a Debian suite (cached by its inputs),
// holding every kernel the lab asks for. A kernel is named by its Debian package (linux-image-6.12-cloud-amd64), the
// meta package that chose it, or its version (6.12.117+deb12-cloud-amd64).
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HostError, UsageError } from '../../../errors.ts';
import type { Home } from '../../../host/home.ts';
import { parsePackages } from '../../../hypervisor/parse/packages.ts';
import type { Emit } from '../../../report/events.ts';
import { LocalExecutor } from '../../../transport/local.ts';

const BUILD_SCRIPT = fileURLToPath(new URL('../../../../scripts/build-vm-image.sh', import.meta.url));

/** The Debian suites a machine image is built from: what each brings, and the kernels every image of it holds. */
export const SUITES = {
  bookworm: {
    title: 'Debian 12: libvirt 9.0, QEMU 7.2, kernels 6.1 and 6.12',
    kernels: ['linux-image-cloud-amd64', 'linux-image-6.12-cloud-amd64'],
  },
  'bookworm-backports': {
    title: 'Debian 12 with backports: libvirt 11.3, QEMU 10.0, kernel 6.12',
    kernels: ['linux-image-cloud-amd64'],
  },
  trixie: { title: 'Debian 13: libvirt 11.3, QEMU 10.0, kernel 6.12', kernels: ['linux-image-cloud-amd64'] },
} as const;
export type Suite = keyof typeof SUITES;
export const DEFAULT_SUITE: Suite = 'bookworm';
export const DEFAULT_KERNEL = 'linux-image-cloud-amd64';

/** The suite a name picks (undefined: the default), or a UsageError listing the suites. */
export function suiteOf(name: string | undefined): Suite {
  if (name === undefined) return DEFAULT_SUITE;
  if (Object.hasOwn(SUITES, name)) return name as Suite;
  throw new UsageError(
    `no machine image "${name}"`,
    `images: ${Object.entries(SUITES)
      .map(([k, v]) => `${k} (${v.title})`)
      .join(', ')}`,
  );
}

export interface KernelEntry {
  version: string;
  package: string;
  /** requested meta packages that resolved to this kernel */
  metas: string[];
}

export interface MachineImage {
  dir: string;
  suite: Suite;
  kernels: KernelEntry[];
  /** the exact versions of libvirt, QEMU, iptables, nftables... in the image, by package */
  packages: Record<string, string>;
}

/** The suite an image folder was built from (its inputs file; a build from before suites were named is bookworm). */
export function imageSuite(inputs: string): Suite {
  const name = /\bsuite=(\S+)/.exec(inputs)?.[1];
  return name && Object.hasOwn(SUITES, name) ? (name as Suite) : DEFAULT_SUITE;
}

export function parseKernels(tsv: string): KernelEntry[] {
  return tsv
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [version = '', pkg = '', metas = ''] = l.split('\t');
      return { version, package: pkg, metas: metas.split(',').filter(Boolean) };
    });
}

/** The kernel a name picks (a version prefix such as 6.12 only when it picks one kernel), or undefined. */
export function pickKernel(kernels: KernelEntry[], name: string): KernelEntry | undefined {
  const exact = kernels.find((k) => k.version === name || k.package === name || k.metas.includes(name));
  if (exact) return exact;
  const prefix = kernels.filter((k) => k.version.startsWith(`${name}.`) || k.version.startsWith(`${name}-`));
  return prefix.length === 1 ? prefix[0] : undefined;
}

/** The kernel a name picks, or a UsageError listing the kernels the image holds. */
export function requireKernel(kernels: KernelEntry[], name: string): KernelEntry {
  const k = pickKernel(kernels, name);
  if (!k)
    throw new UsageError(
      `no kernel "${name}" in the machine image`,
      `kernels it holds: ${kernels.map((x) => `${x.version} (${[x.package, ...x.metas].join(', ')})`).join('; ')}; name a Debian package (linux-image-...) to add one`,
    );
  return k;
}

/** A kernel request that is a .deb of one's own (make bindeb-pkg): its absolute path. */
export function isKernelDeb(request: string): boolean {
  return request.endsWith('.deb');
}

/** A kernel request that is a bare kernel image (bzImage) of one's own: a path that is not a .deb. */
export function isBzImage(request: string): boolean {
  return request.includes('/') && !isKernelDeb(request);
}

/** A bzImage's version, from the kernel's own setup header ("HdrS", the version string's offset at 0x20E). */
export function bzImageVersion(head: Buffer): string | undefined {
  if (head.length < 0x210 || head.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined;
  const at = head.readUInt16LE(0x20e) + 0x200;
  const end = head.indexOf(0, at);
  if (at >= head.length || end < 0) return undefined;
  return head.toString('latin1', at, end).split(' ')[0] || undefined;
}

function readHead(path: string, bytes = 65536): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(bytes);
    return b.subarray(0, readSync(fd, b, 0, bytes, 0));
  } finally {
    closeSync(fd);
  }
}

/**
 * A --kernel value as the image build takes it: a package name as it is; a .deb or a bzImage by its absolute path
 * (relative to the current folder), which must be there; anything else is refused before anything is made.
 */
export function kernelRequest(value: string, cwd = process.cwd()): string {
  if (!isKernelDeb(value) && !isBzImage(value)) return value;
  const path = resolve(cwd, value);
  const what = isKernelDeb(value) ? 'kernel package file' : 'kernel image';
  if (!existsSync(path) || !statSync(path).isFile())
    throw new UsageError(`no ${what} ${path}`, 'give the path of a linux-image-*.deb (make bindeb-pkg) or a bzImage');
  if (!/^\/[A-Za-z0-9._/+~-]+$/.test(path))
    throw new UsageError(`${what} path ${path}: only letters, digits and ._/+~- are allowed in it`);
  if (isBzImage(path) && !bzImageVersion(readHead(path)))
    throw new UsageError(`${path} is not a Linux kernel image (no bzImage header)`, 'give a bzImage or a .deb');
  return path;
}

/**
 * The kernel of the image a request boots with: a bzImage boots with the image's initramfs and modules of its own
 * version, so the image must hold that version; anything else names a kernel of the image.
 */
export function kernelFor(kernels: KernelEntry[], request: string): KernelEntry {
  if (!isBzImage(request)) return requireKernel(kernels, request);
  const version = bzImageVersion(readHead(request)) ?? '?';
  const k = kernels.find((x) => x.version === version);
  if (!k)
    throw new UsageError(
      `the machine image holds no modules for ${version}, the version of ${request}`,
      `a bzImage boots with the image's initramfs and modules of its own version (${kernels.map((x) => x.version).join(', ')}); package your build as a .deb (make bindeb-pkg) to bring its modules`,
    );
  return k;
}

/** The packages an image must hold for these requests: the suite's, plus any package name or .deb requested. */
export function imageKernels(requests: string[], suite: Suite = DEFAULT_SUITE): string[] {
  const defaults: readonly string[] = SUITES[suite].kernels;
  const extra = requests.filter((r) => (r.startsWith('linux-image-') || isKernelDeb(r)) && !defaults.includes(r));
  return [...defaults, ...new Set(extra)];
}

/** Reads a built image's folder. */
function readImage(dir: string): MachineImage {
  const file = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');
  return {
    dir,
    suite: imageSuite(file('inputs')),
    kernels: parseKernels(file('kernels.tsv')),
    packages: parsePackages(file('packages.tsv')),
  };
}

export async function machineImage(
  home: Home,
  requests: string[],
  emit: Emit,
  signal?: AbortSignal,
  suite: Suite = DEFAULT_SUITE,
): Promise<MachineImage> {
  const pkgs = imageKernels(requests, suite);
  const t0 = performance.now();
  const r = await new LocalExecutor('host').run(['bash', BUILD_SCRIPT, '--suite', suite, ...pkgs], {
    env: { VIRTLAB_HOME: home.root, VIRTLAB_CACHE: home.cache },
    check: false,
    timeoutMs: 1_800_000,
    signal,
    onStderrLine: (line) => {
      if (/^vm-image: /.test(line) && !/up to date/.test(line))
        emit({ type: 'log', level: 'info', message: line.trim() });
    },
  });
  if (r.exitCode !== 0) {
    throw new HostError(
      `cannot build the machine image: ${r.stderr.trim().split('\n').slice(-4).join(' | ')}`,
      `run bash scripts/build-vm-image.sh --suite ${suite} ${pkgs.join(' ')} by hand to see why`,
    );
  }
  const img = readImage(r.stdout.trim().split('\n').pop()!);
  if (performance.now() - t0 > 5000)
    emit({
      type: 'log',
      level: 'info',
      message: `machine image ready in ${((performance.now() - t0) / 1000).toFixed(0)} s (${img.dir})`,
    });
  for (const q of requests) kernelFor(img.kernels, q);
  return img;
}

/** The machine images already built (for `virtlab doctor`). */
export function machineImages(home: Home): MachineImage[] {
  const root = join(home.cache, 'vm-images');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter(
      (d) => !d.startsWith('.') && existsSync(join(root, d, 'kernels.tsv')) && existsSync(join(root, d, 'disk.qcow2')),
    )
    .map((d) => readImage(join(root, d)));
}
