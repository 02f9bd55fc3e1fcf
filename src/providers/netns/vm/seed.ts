// The per-boot seed of a VM machine: a plain tar (attached as a raw read-only disk) that the image's
// virtlab-seed service applies before networking and sshd start. Only data, no script text.
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalExecutor } from '../../../transport/local.ts';

export interface SeedNic {
  mac: string;
  name: string;
  /** A.B.C.D/NN, or undefined for none */
  address?: string;
  /** on a dual-stack network: x:y::z/64 (the NIC then takes no SLAAC address of its own) */
  address6?: string;
}

export interface Seed {
  hostname: string;
  authorizedKey: string;
  hostKeyFile: string;
  nics: SeedNic[];
  /** a tar of a warm /var/cache/libvirt/qemu, when the host has one for this image and kernel */
  libvirtCaps?: string;
}

export function nicsFile(nics: SeedNic[]): string {
  return nics.map((n) => `${n.mac} ${n.name} ${n.address ?? '-'}${n.address6 ? ` ${n.address6}` : ''}\n`).join('');
}

export async function writeSeed(dir: string, seed: Seed): Promise<string> {
  const d = join(dir, 'seed');
  mkdirSync(d, { recursive: true, mode: 0o700 });
  writeFileSync(join(d, 'hostname'), `${seed.hostname}\n`);
  writeFileSync(
    join(d, 'authorized_keys'),
    seed.authorizedKey.endsWith('\n') ? seed.authorizedKey : `${seed.authorizedKey}\n`,
  );
  copyFileSync(seed.hostKeyFile, join(d, 'ssh_host_ed25519_key'));
  copyFileSync(`${seed.hostKeyFile}.pub`, join(d, 'ssh_host_ed25519_key.pub'));
  writeFileSync(join(d, 'nics'), nicsFile(seed.nics));
  // entropy of the host's, mixed into a VM restored from a snapshot (reseed.sh)
  writeFileSync(join(d, 'random'), randomBytes(64), { mode: 0o600 });
  if (seed.libvirtCaps && existsSync(seed.libvirtCaps)) copyFileSync(seed.libvirtCaps, join(d, 'libvirt-caps.tar'));
  const tar = join(dir, 'seed.tar');
  await new LocalExecutor('host').run(['tar', '-cf', tar, '--owner=0', '--group=0', '-C', d, '.']);
  return tar;
}
