// The VM slot: which instances still hold the host's cores. A run that ended without its teardown holds its slot
// while a process it started is alive; after a reboot (every process gone) the slot is free, the instance stays
// for `virtlab down`.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { Home } from '../../src/host/home.ts';
import { createInstance, thisRunner } from '../../src/host/instance.ts';
import { StateStore } from '../../src/host/state.ts';
import { nsData, setNsData } from '../../src/providers/netns/state.ts';
import { claimVmSlot, holdsCores } from '../../src/providers/netns/vm/slots.ts';

function tempHome(): Home {
  const root = mkdtempSync(join(tmpdir(), 'virtlab-unit-slots-'));
  return { root, state: join(root, 'state'), runs: join(root, 'runs'), cache: root, images: root } as Home;
}

const gone = { pid: 1, start: 'not-init' }; // PID 1's start time is never this: a process that has ended

function instance(h: Home, name: string): StateStore {
  return createInstance(h, { lab: name, labFile: `/labs/${name}.yml`, provider: 'netns', providerOptions: {} });
}

test('a run that is going, a kept instance, or a live VM process holds the cores; a dead run with no process does not', (t) => {
  const h = tempHome();
  const s = instance(h, 'held');
  t.true(holdsCores(s), 'its run is this process');
  s.update((st) => {
    st.runner = gone;
  });
  t.false(holdsCores(s), 'its run ended and nothing it started is alive');
  s.record({ kind: 'process', label: 'qemu kvm-01', owner: 'kvm-01', proc: gone });
  t.false(holdsCores(s), 'a process of the same PID but another start time is not its VM');
  s.record({ kind: 'process', label: 'qemu kvm-02', owner: 'kvm-02', proc: thisRunner() });
  t.true(holdsCores(s), 'one of its VMs is still running');
  const k = instance(h, 'kept');
  k.update((st) => {
    st.runner = gone;
    st.status = 'kept';
  });
  t.true(holdsCores(k));
});

test('a slot left by a run whose VMs are all gone (a reboot) is taken; one whose VM still runs is refused with what to do', async (t) => {
  const h = tempHome();
  const before = process.env.VIRTLAB_VM_SLOTS;
  process.env.VIRTLAB_VM_SLOTS = '1';
  t.teardown(() => {
    if (before === undefined) delete process.env.VIRTLAB_VM_SLOTS;
    else process.env.VIRTLAB_VM_SLOTS = before;
  });
  const old = instance(h, 'vm-bond');
  setNsData(old, (d) => {
    d.vmSlot = true;
  });
  old.update((st) => {
    st.runner = gone;
    st.status = 'up';
  });
  old.record({ kind: 'process', label: 'qemu kvm-01', owner: 'kvm-01', proc: gone });
  const next = instance(h, 'vm-vlan');
  const signal = new AbortController().signal;
  await claimVmSlot(h, next, () => {}, signal);
  t.true(nsData(StateStore.load(next.path)).vmSlot);
  t.truthy(StateStore.load(old.path), 'the old instance is still there for virtlab down');

  old.record({ kind: 'process', label: 'qemu kvm-02', owner: 'kvm-02', proc: thisRunner() });
  const third = instance(h, 'vm-ovs');
  setNsData(next, (d) => {
    d.vmSlot = false;
  });
  const e = await t.throwsAsync(claimVmSlot(h, third, () => {}, signal));
  t.regex(e?.message ?? '', /vm-bond's run \(pid 1\) ended without removing its VMs/);
});
