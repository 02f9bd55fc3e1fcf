// The machine image of VM machines: built by scripts/build-vm-image.sh from a Debian suite (cached by its inputs),
// holding every kernel the lab asks for (see kernels.ts for how a kernel is named).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HostError, UsageError } from '../../../errors.ts';
import type { Home } from '../../../host/home.ts';
import { packagePath } from '../../../host/package-root.ts';
import { parsePackages } from '../../../hypervisor/parse/packages.ts';
import type { Emit } from '../../../report/events.ts';
import { LocalExecutor } from '../../../transport/local.ts';
import { isKernelDeb, type KernelEntry, kernelFor, parseKernels } from './kernels.ts';

const BUILD_SCRIPT = packagePath('scripts', 'build-vm-image.sh');

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
