// The inventory of existing hosts for the ssh provider: address, port, user, key and the pinned host key.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import { UsageError } from '../../errors.ts';

export interface InventoryHost {
  name: string;
  host: string;
  port: number;
  user: string;
  key: string;
  /** pinned host key: an OpenSSH public key line ("ssh-ed25519 AAAA...") or its SHA256 fingerprint */
  hostKey?: string;
  fingerprint?: string;
  sudo: boolean;
}

export interface Inventory {
  file: string;
  hosts: Map<string, InventoryHost>;
  /** where the real network's DHCP server keeps its leases, read on the control host */
  leases: Map<string, string>;
}

export function loadInventory(file: string): Inventory {
  let raw: any;
  try {
    raw = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read inventory ${file}: ${(e as Error).message}`);
  }
  const base = dirname(file);
  const abs = (p: string) => (isAbsolute(p) ? p : join(base, p));
  const hosts = new Map<string, InventoryHost>();
  for (const [name, h] of Object.entries<any>(raw?.machines ?? {})) {
    if (!h?.host || !h?.key) throw new UsageError(`inventory ${file}: machine ${name} needs "host" and "key"`);
    if (!h['host-key'] && !h.fingerprint) {
      throw new UsageError(
        `inventory ${file}: machine ${name} has no pinned host key`,
        'add "host-key: ssh-ed25519 AAAA..." or "fingerprint: SHA256:..." (virtlab refuses unknown host keys)',
      );
    }
    hosts.set(name, {
      name,
      host: String(h.host),
      port: Number(h.port ?? 22),
      user: String(h.user ?? 'root'),
      key: abs(String(h.key)),
      hostKey: h['host-key'],
      fingerprint: h.fingerprint,
      sudo: Boolean(h.sudo),
    });
  }
  const leases = new Map<string, string>();
  for (const [net, n] of Object.entries<any>(raw?.networks ?? {}))
    if (n?.leases) leases.set(net, abs(String(n.leases)));
  return { file, hosts, leases };
}
