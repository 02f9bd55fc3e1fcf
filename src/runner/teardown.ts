// Teardown: the provider removes everything the state lists, then the leak check looks for each of it again.
import type { Provider } from '../providers/provider.ts';
import type { Emit } from '../report/events.ts';
import type { StateStore } from './state.ts';
import type { CommandClock } from '../transport/executor.ts';

/** Returns what is still there; the state file is removed only when nothing is. */
export async function teardown(
  provider: Provider,
  store: StateStore,
  emit: Emit,
  clock?: CommandClock,
): Promise<string[]> {
  emit({ type: 'stage-start', stage: 'teardown' });
  const t0 = performance.now();
  tryState(emit, () =>
    store.update((s) => {
      s.status = 'tearing-down';
    }),
  );
  try {
    await provider.down(store, emit, clock);
  } catch (e) {
    emit({ type: 'log', level: 'warn', message: `teardown: ${(e as Error).message}` });
  }
  const leaks = await provider.leaks(store);
  if (leaks.length)
    tryState(emit, () =>
      store.update((s) => {
        s.status = 'down';
      }),
    );
  else tryState(emit, () => store.remove());
  emit({
    type: 'step-end',
    stage: 'teardown',
    id: 'leak-check',
    status: leaks.length ? 'failed' : 'ok',
    durationMs: 0,
    detail: leaks.length ? `${leaks.length} left` : `removed ${store.state.resources.length} resources, nothing left`,
  });
  emit({
    type: 'stage-end',
    stage: 'teardown',
    durationMs: Math.round(performance.now() - t0),
    ok: leaks.length === 0,
  });
  return leaks;
}

// teardown must go on even when the state folder became unwritable: the state in memory says what to remove
function tryState(emit: Emit, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    emit({ type: 'log', level: 'warn', message: (e as Error).message });
  }
}
