// Teardown: the provider removes what the state lists and can verify as this run's, then the leak check looks for
// each of it again. The state file goes only when nothing is left and nothing was refused.
import type { Home } from '../host/home.ts';
import type { StateStore } from '../host/state.ts';
import type { Provider } from '../providers/port.ts';
import type { Emit } from '../report/events.ts';
import type { CommandClock } from '../transport/executor.ts';

export interface TeardownResult {
  /** what this run made and is still there */
  leaks: string[];
  /** what the state lists but could not be verified as this run's: left alone */
  refused: string[];
}

export async function teardown(
  provider: Provider,
  store: StateStore,
  emit: Emit,
  home: Home,
  clock?: CommandClock,
): Promise<TeardownResult> {
  emit({ type: 'stage-start', stage: 'teardown' });
  const t0 = performance.now();
  tryState(emit, () =>
    store.update((s) => {
      s.status = 'tearing-down';
    }),
  );
  let refused: string[] = [];
  try {
    refused = await provider.down(store, { emit, home, clock });
  } catch (e) {
    emit({ type: 'log', level: 'warn', message: `teardown: ${(e as Error).message}` });
  }
  const leaks = await provider.leaks(store, home);
  const clean = !leaks.length && !refused.length;
  if (clean) tryState(emit, () => store.remove());
  else
    tryState(emit, () =>
      store.update((s) => {
        s.status = 'down';
      }),
    );
  const detail = leaks.length
    ? `${leaks.length} left`
    : refused.length
      ? `${refused.length} listed but not this run's: left alone`
      : `removed ${store.state.resources.length} resources, nothing left`;
  emit({
    type: 'step-end',
    stage: 'teardown',
    id: 'leak-check',
    status: clean ? 'ok' : 'failed',
    durationMs: 0,
    detail,
  });
  emit({ type: 'stage-end', stage: 'teardown', durationMs: Math.round(performance.now() - t0), ok: clean });
  return { leaks, refused };
}

// teardown must go on even when the state folder became unwritable: the state in memory says what to remove
function tryState(emit: Emit, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    emit({ type: 'log', level: 'warn', message: (e as Error).message });
  }
}
