// The one explicit list of built-in providers.
import { ProviderRegistry } from './provider.ts';
import { NetnsProvider } from './netns/provider.ts';
import { SshProvider } from './ssh/provider.ts';

export function builtinProviders(): ProviderRegistry {
  const r = new ProviderRegistry();
  r.register('netns', () => new NetnsProvider());
  r.register('ssh', (o) => new SshProvider(o.inventory));
  return r;
}
