// The state file: every record and change is on disk (renamed into place) before the call returns, whether it is
// forced to disk (durable resources) or not (ones that end with this host's boot).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { Home } from '../../src/host/home.ts';
import { createInstance } from '../../src/host/instance.ts';

test('records and notes are in the file as soon as they are made; a removed store writes nothing', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'virtlab-unit-state-'));
  const h = { root, state: join(root, 'state'), runs: join(root, 'runs'), cache: root, images: root } as Home;
  const s = createInstance(h, { lab: 'lab', labFile: '/labs/lab.yml', provider: 'netns', providerOptions: {} });
  const onDisk = () => JSON.parse(readFileSync(s.path, 'utf8'));
  const ns = s.record({ kind: 'netns', name: 'vl-x', owner: 'm' });
  t.deepEqual(onDisk().resources, [{ kind: 'netns', name: 'vl-x', owner: 'm' }]);
  s.note(() => {
    if (ns.kind === 'netns') ns.ino = 42;
  });
  t.is(onDisk().resources[0].ino, 42);
  s.record({ kind: 'dir', path: '/var/lib/virtlab/runs/x', owner: 'm' });
  t.is(onDisk().resources.length, 2);
  s.remove();
  s.note((st) => {
    st.status = 'up';
  });
  t.throws(() => readFileSync(s.path));
});
