// The ssh backend's row of the provider table: existing hosts from an inventory.
import type { ProviderDef } from '../port.ts';
import { loadInventory } from './inventory.ts';
import { SshProvider } from './provider.ts';

export const sshDef: ProviderDef = {
  name: 'ssh',
  summary: 'existing hosts from an inventory (address, user, key, pinned host key)',
  options: [
    {
      key: 'inventory',
      flag: '--inventory',
      value: '<file>',
      help: 'ssh provider: the existing hosts (address, user, key, pinned host key)',
      file: true,
    },
  ],
  create: (o) => new SshProvider(o.inventory),
  // two runs on the same hosts would trample each other's guests and networks
  exclusive: (o) =>
    o.inventory ? [...loadInventory(o.inventory).hosts.values()].map((h) => `${h.host}:${h.port}`) : [],
};
