// The machine image of VM machines: built by scripts/build-vm-image.sh (cached by its inputs), holding every kernel
// the lab asks for. A kernel is named by its Debian package (linux-image-6.12-cloud-amd64), the meta package that
// chose it, or its version (6.12.117+deb12-cloud-amd64).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HostError, UsageError } from '../../../errors.ts';
import type { Home } from '../../../host/home.ts';
import type { Emit } from '../../../report/events.ts';
import { LocalExecutor } from '../../../transport/local.ts';

const BUILD_SCRIPT = fileURLToPath(new URL('../../../../scripts/build-vm-image.sh', import.meta.url));

/** Kernels every image holds (both install offline from bookworm and bookworm-security). */
export const DEFAULT_KERNELS = ['linux-image-cloud-amd64', 'linux-image-6.12-cloud-amd64'];
export const DEFAULT_KERNEL = DEFAULT_KERNELS[0]!;

export interface KernelEntry {
  version: string;
  package: string;
  /** requested meta packages that resolved to this kernel */
  metas: string[];
}

export interface MachineImage {
  dir: string;
  kernels: KernelEntry[];
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

/** The packages an image must hold for these requests: the defaults, plus any request that is a package name. */
export function imageKernels(requests: string[]): string[] {
  const extra = requests.filter((r) => r.startsWith('linux-image-') && !DEFAULT_KERNELS.includes(r));
  return [...DEFAULT_KERNELS, ...new Set(extra)];
}

export async function machineImage(
  home: Home,
  requests: string[],
  emit: Emit,
  signal?: AbortSignal,
): Promise<MachineImage> {
  const pkgs = imageKernels(requests);
  const t0 = performance.now();
  const r = await new LocalExecutor('host').run(['bash', BUILD_SCRIPT, ...pkgs], {
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
      `run bash scripts/build-vm-image.sh ${pkgs.join(' ')} by hand to see why`,
    );
  }
  const dir = r.stdout.trim().split('\n').pop()!;
  const kernels = parseKernels(readFileSync(join(dir, 'kernels.tsv'), 'utf8'));
  if (performance.now() - t0 > 5000)
    emit({
      type: 'log',
      level: 'info',
      message: `machine image ready in ${((performance.now() - t0) / 1000).toFixed(0)} s (${dir})`,
    });
  for (const q of requests) requireKernel(kernels, q);
  return { dir, kernels };
}

/** The machine images already built (for `virtlab doctor`). */
export function machineImages(home: Home): { dir: string; kernels: KernelEntry[] }[] {
  const root = join(home.cache, 'vm-images');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter(
      (d) => !d.startsWith('.') && existsSync(join(root, d, 'kernels.tsv')) && existsSync(join(root, d, 'disk.qcow2')),
    )
    .map((d) => ({ dir: join(root, d), kernels: parseKernels(readFileSync(join(root, d, 'kernels.tsv'), 'utf8')) }));
}
