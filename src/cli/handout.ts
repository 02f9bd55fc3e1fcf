// Plain-ssh access to a lab instance: an OpenSSH config for its machines, and a student's hand-out folder (the
// instance's key, its pinned host keys and an ssh_config using them).
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StateStore } from '../host/state.ts';
import { providerFor } from '../providers/index.ts';
import type { SshAccess } from '../providers/port.ts';
import { knownHostsText } from '../runner/ansible.ts';
import { ansibleHosts } from '../runner/provision.ts';

/** Host blocks for every machine of an instance, as `<instance>-<machine>` and `<machine>`. */
export function sshConfigText(store: StateStore, key: (a: SshAccess) => string, known: string): string {
  const provider = providerFor(store.state);
  const out = [
    `# virtlab: lab ${store.state.lab}, instance ${store.state.instance}. Use: ssh -F <this file> <machine>`,
  ];
  for (const m of store.state.machines) {
    const a = provider.access(store, m);
    out.push(
      '',
      `Host ${store.state.instance}-${m.name} ${m.name}`,
      `  HostName ${a.host}`,
      `  Port ${a.port}`,
      `  User ${a.user}`,
      `  IdentityFile ${key(a)}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${known}`,
      `  StrictHostKeyChecking ${a.hostKey ? 'yes' : 'ask'}`,
      '  LogLevel ERROR',
    );
  }
  return `${out.join('\n')}\n`;
}

/**
 * A student's hand-out: a folder with the instance's key, its pinned host keys and an ssh_config that uses them, so
 * that `ssh -F <dir>/ssh_config kvm-01` works without root (give the folder to the student's account). The key
 * opens this instance's machines and nothing else.
 */
export function writeHandout(store: StateStore, dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const provider = providerFor(store.state);
  const keys = new Map<string, string>();
  for (const m of store.state.machines) {
    const a = provider.access(store, m);
    if (!keys.has(a.keyFile)) keys.set(a.keyFile, join(dir, keys.size ? `id_${keys.size}` : 'id_ed25519'));
  }
  for (const [from, to] of keys) {
    copyFileSync(from, to);
    chmodSync(to, 0o600);
  }
  const known = join(dir, 'known_hosts');
  writeFileSync(known, knownHostsText(ansibleHosts({ store })), { mode: 0o644 });
  writeFileSync(
    join(dir, 'ssh_config'),
    sshConfigText(store, (a) => keys.get(a.keyFile)!, known),
    { mode: 0o644 },
  );
  return join(dir, 'ssh_config');
}
