import test from 'ava';
import type { StateStore } from '../../src/host/state.ts';
import { allocateMgmt, allocateSlots, SLOT_WIDTH } from '../../src/providers/netns/alloc.ts';

// another instance's state, as the netns provider records it
const fake = (machines: { address?: string; data: Record<string, unknown> }[]) =>
  ({
    state: {
      machines: machines.map((m) => ({ address: '', ...m, data: { ns: 'x', dir: '/x', mgmtLink: 'l', ...m.data } })),
    },
  }) as unknown as StateStore;

test('management /30s skip addresses used by other instances and by the host', (t) => {
  const other = fake([{ address: '100.127.0.2', data: { mgmtLocal: '100.127.0.1' } }]);
  const pairs = allocateMgmt(2, [other], new Set(['100.127.0.5']));
  t.deepEqual(pairs, [
    { local: '100.127.0.9', host: '100.127.0.10' },
    { local: '100.127.0.13', host: '100.127.0.14' },
  ]);
});

test('ifindex slots avoid other instances and existing /dev/tapN', (t) => {
  const other = fake([{ data: { ifindexBase: SLOT_WIDTH } }]);
  t.deepEqual(allocateSlots(2, [other], [2 * SLOT_WIDTH + 5]), [3, 4]);
  t.deepEqual(allocateSlots(1, [], []), [1]);
});
