// Which kernel a request names: a Debian package (linux-image-6.12-cloud-amd64), the meta package that chose it, a
// version of the image (6.12.117+deb12-cloud-amd64) or a prefix that picks one (6.12); or a kernel of one's own, a
// .deb (installed into the image) or a bare bzImage (booted with the image's modules of its version).
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../../../errors.ts';
import type { Problem } from '../../port.ts';

export interface KernelEntry {
  version: string;
  package: string;
  /** requested meta packages that resolved to this kernel */
  metas: string[];
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

/** A --kernel value as the image build takes it: a package name as it is; a .deb or a bzImage by its absolute path. */
export function kernelPath(value: string, cwd = process.cwd()): string {
  return isKernelDeb(value) || isBzImage(value) ? resolve(cwd, value) : value;
}

/**
 * What is wrong with a kernel file a request names (a .deb or a bzImage): missing, a path the image build cannot
 * take, or not a kernel. Checked in preflight, not when the provider is made: `down` of a lab whose kernel file is
 * gone since must still work.
 */
export function kernelFileProblem(request: string): Problem | undefined {
  if (!isKernelDeb(request) && !isBzImage(request)) return undefined;
  const what = isKernelDeb(request) ? 'kernel package file' : 'kernel image';
  if (!existsSync(request) || !statSync(request).isFile())
    return {
      what: `no ${what} ${request}`,
      hint: 'give the path of a linux-image-*.deb (make bindeb-pkg) or a bzImage',
    };
  if (!/^\/[A-Za-z0-9._/+~-]+$/.test(request))
    return { what: `${what} path ${request}: only letters, digits and ._/+~- are allowed in it` };
  if (isBzImage(request) && !bzImageVersion(readHead(request)))
    return { what: `${request} is not a Linux kernel image (no bzImage header)`, hint: 'give a bzImage or a .deb' };
  return undefined;
}

/** kernelPath, refusing a kernel file with a problem (UsageError). */
export function kernelRequest(value: string, cwd = process.cwd()): string {
  const path = kernelPath(value, cwd);
  const p = kernelFileProblem(path);
  if (p) throw new UsageError(p.what, p.hint);
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
