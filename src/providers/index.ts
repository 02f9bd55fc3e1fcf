// The one explicit list of built-in providers. Adding one: a folder with its Provider, and one row here.
import { UsageError } from '../errors.ts';
import type { LabState } from '../host/state.ts';
import { didYouMean } from '../lab/suggest.ts';
import { netnsDef, vmDef } from './netns/defs.ts';
import type { Provider, ProviderDef, ProviderOptions } from './port.ts';
import { sshDef } from './ssh/defs.ts';

export const PROVIDERS: readonly ProviderDef[] = [netnsDef, vmDef, sshDef];

export function providerDef(name: string): ProviderDef {
  const d = PROVIDERS.find((p) => p.name === name);
  if (d) return d;
  const guess = didYouMean(
    name,
    PROVIDERS.map((p) => p.name),
  );
  throw new UsageError(
    `unknown provider "${name}"${guess ? `; did you mean "${guess}"?` : ''}`,
    `known providers: ${PROVIDERS.map((p) => p.name).join(', ')}`,
  );
}

export function createProvider(name: string, o: ProviderOptions = {}): Provider {
  return providerDef(name).create(o);
}

/** The provider that made a recorded instance, with the same options (to reach or remove its machines). */
export function providerFor(state: Pick<LabState, 'provider' | 'providerOptions'>): Provider {
  return createProvider(state.provider, state.providerOptions);
}

/** Every provider option (for the command line and matrix targets), each flag once. */
export function providerOptions(): { flag: string; key: string; value: string; help: string; providers: string[] }[] {
  const out = new Map<string, { flag: string; key: string; value: string; help: string; providers: string[] }>();
  for (const p of PROVIDERS) {
    for (const o of p.options) {
      const known = out.get(o.key);
      if (known) known.providers.push(p.name);
      else out.set(o.key, { ...o, providers: [p.name] });
    }
  }
  return [...out.values()];
}
