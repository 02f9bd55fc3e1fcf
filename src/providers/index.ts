// The one explicit list of built-in providers.
import type { LabState } from '../runner/state.ts';
import { ProviderRegistry, type Provider } from './provider.ts';
import { NetnsProvider } from './netns/provider.ts';
import { SshProvider } from './ssh/provider.ts';
import { VmProvider } from './vm/provider.ts';

export function builtinProviders(): ProviderRegistry {
  const r = new ProviderRegistry();
  r.register('netns', (o) => new NetnsProvider({ kernel: o.kernel }));
  r.register('vm', (o) => new VmProvider({ kernel: o.kernel }));
  r.register('ssh', (o) => new SshProvider(o.inventory));
  return r;
}

/** The provider that made a recorded instance (to reach or remove its machines). */
export function providerFor(state: Pick<LabState, 'provider' | 'inventory'>): Provider {
  return builtinProviders().get(state.provider, { inventory: state.inventory });
}
