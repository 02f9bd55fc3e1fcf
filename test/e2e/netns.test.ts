// The netns provider on real sshd, libvirtd, dnsmasq and QEMU: isolation between machines and instances, the
// executor, playbook idempotence, and cleanup after the runner is killed with SIGKILL.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { home } from '../../src/host/home.ts';
import { StateStore } from '../../src/host/state.ts';
import { loadLab } from '../../src/lab/load.ts';
import { NetnsProvider } from '../../src/providers/netns/provider.ts';
import type { RunEvent } from '../../src/report/events.ts';
import { runPlaybook } from '../../src/runner/provision.ts';
import { eventually, leftovers, orphanNamespaceProcesses, virtlab } from '../helpers/host.ts';
import { startVirtlab } from '../helpers/spawn.ts';

const attach = (instance: string) => {
  const store = StateStore.load(StateStore.pathFor(home(), instance));
  return { store, ...new NetnsProvider().attach(store) };
};

test.serial('two labs up at once: machines see only their own guests, names and taps never collide', async (t) => {
  const [a, b] = await Promise.all([
    startVirtlab(['up', 'kvm-macvtap', '--name', 'e2e-a']).done,
    startVirtlab(['up', 'test/fixtures/labs/two-hypervisors.yml', '--name', 'e2e-b']).done,
  ]);
  const runIds: string[] = [];
  try {
    t.is(a.code, 0, a.stdout + a.stderr);
    t.is(b.code, 0, b.stdout + b.stderr);
    const A = attach('e2e-a');
    const B = attach('e2e-b');
    runIds.push(A.store.state.runId, B.store.state.runId);
    const mgmt = [...A.store.state.machines, ...B.store.state.machines].map((m) => m.address);
    t.is(new Set(mgmt).size, mgmt.length, 'management addresses are unique across instances');
    const list = async (x: { machines: { name: string; exec: any }[] }, m: string) =>
      (
        await x.machines.find((y) => y.name === m)!.exec.run(['virsh', '-c', 'qemu:///system', 'list', '--name'])
      ).stdout.trim();
    t.is(await list(A, 'kvm-01'), 'cirros');
    t.is(await list(B, 'kvm-01'), 'guest1');
    t.is(await list(B, 'kvm-02'), 'guest2');
    // each QEMU holds the /dev/tapN of its own machine's macvtap (HOST-NOTES: silent cross-wiring otherwise)
    const taps: string[] = [];
    for (const [x, m] of [
      [A, 'kvm-01'],
      [B, 'kvm-01'],
      [B, 'kvm-02'],
    ] as const) {
      const e = x.machines.find((y) => y.name === m)!.exec;
      const dev = (
        await e.run(['sh', '-c', 'virsh domiflist "$(virsh list --name | head -1)" | awk \'/macvtap/ {print $1}\''])
      ).stdout.trim();
      const ifindex = (await e.run(['cat', `/sys/class/net/${dev}/ifindex`])).stdout.trim();
      const fds = (await e.run(['sh', '-c', 'ls -l /proc/$(pgrep -o qemu-system)/fd'])).stdout;
      t.regex(fds, new RegExp(`-> /dev/tap${ifindex}\\n`), `${m}: QEMU must hold /dev/tap${ifindex}`);
      const sysDev = (await e.run(['cat', `/sys/class/net/${dev}/macvtap/tap${ifindex}/dev`])).stdout.trim();
      const node = (await e.run(['stat', '-c', '%t:%T', `/dev/tap${ifindex}`])).stdout.trim();
      t.is(
        node
          .split(':')
          .map((h) => parseInt(h, 16))
          .join(':'),
        sysDev,
        `${m}: /dev/tap${ifindex} is the macvtap's own device`,
      );
      taps.push(ifindex);
    }
    t.is(new Set(taps).size, 3, `tap numbers must differ: ${taps}`);
    // the executor: checksum-verified upload, skipped the second time
    const kvm = A.machines.find((m) => m.name === 'kvm-01')!.exec;
    const f = join(mkdtempSync(join(tmpdir(), 'virtlab-up-')), 'payload.bin');
    writeFileSync(f, Buffer.alloc(300000, 7));
    const first = await kvm.upload(f, '/root/lab/payload.bin');
    const second = await kvm.upload(f, '/root/lab/payload.bin');
    t.false(first.skipped);
    t.true(second.skipped);
    const want = createHash('sha256').update(readFileSync(f)).digest('hex');
    t.is((await kvm.run(['sha256sum', '/root/lab/payload.bin'])).stdout.split(' ')[0], want);
    // a failed command keeps the shape of a result, plus the machine
    const err = await t.throwsAsync(kvm.run(['sh', '-c', 'echo oops >&2; exit 3']));
    t.regex(err!.message, /^kvm-01: `sh -c echo oops >&2; exit 3` failed \(exit 3\): oops/);
    // playbooks: a second run changes nothing
    const lab = loadLab('kvm-macvtap');
    for (const m of lab.machines) {
      const events: RunEvent[] = [];
      const exec = A.machines.find((x) => x.name === m.name)!.exec;
      const again = await runPlaybook(m, exec, {
        sharedFilesystem: true,
        privatePaths: ['/root', '/tmp', '/run', '/etc/libvirt', '/var/lib/libvirt'],
        emit: (e) => events.push(e),
      });
      t.is(again.failed, 0);
      t.is(again.changed, 0, `${m.name}: ${JSON.stringify(events.filter((e) => e.type === 'step-end'))}`);
      t.true(again.ok > 0);
    }
    for (const x of [A, B]) for (const m of x.machines) await m.exec.close();
  } finally {
    t.is(virtlab(['down', 'e2e-a']).code, 0);
    t.is(virtlab(['down', 'e2e-b']).code, 0);
  }
  t.deepEqual(leftovers('e2e-a', runIds[0]), []);
  t.deepEqual(leftovers('e2e-b', runIds[1]), []);
  t.deepEqual(orphanNamespaceProcesses(), []);
});

test.serial('virtlab down cleans up after `up` was killed with SIGKILL mid-way', async (t) => {
  const statePath = StateStore.pathFor(home(), 'e2e-kill');
  const p = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'up', 'kvm-macvtap', '--name', 'e2e-kill'], {
    stdio: 'ignore',
  });
  // kill it once the hypervisor's daemons are being started (the state lists the init process)
  const until = Date.now() + 60000;
  let runId: string | undefined;
  while (Date.now() < until) {
    if (existsSync(statePath)) {
      try {
        const s = JSON.parse(readFileSync(statePath, 'utf8'));
        runId = s.runId;
        if (s.resources.some((r: any) => r.kind === 'process' && r.label === 'init of kvm-01' && r.proc)) break;
      } catch {
        /* being written */
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  p.kill('SIGKILL');
  await new Promise((r) => p.on('close', r));
  t.truthy(runId, 'the run got far enough to create resources');
  t.not(leftovers('e2e-kill', runId).length, 0, 'something was left behind to clean up');
  const st = virtlab(['status']);
  t.regex(st.stdout, /e2e-kill .*runner gone: run virtlab down e2e-kill/, `exit ${st.code}\n${st.out}`);
  const refused = virtlab(['up', 'kvm-macvtap', '--name', 'e2e-kill']);
  t.is(refused.code, 3);
  t.regex(refused.stderr, /lab instance "e2e-kill" was left behind by a run that did not finish/);
  // after a crash or a reboot: every instance whose run ended without its teardown, and only those
  const d = virtlab(['down', '--stale']);
  t.is(d.code, 0, d.out);
  t.regex(d.stdout, /^e2e-kill: removed \(\d+ resources of run \w+\); nothing left$/m);
  t.deepEqual(leftovers('e2e-kill', runId), []);
  t.deepEqual(orphanNamespaceProcesses(), []);
});

test.serial(
  "an outdated warm libvirt cache is replaced by the machine's fresh one; libvirtd on one CPU, QEMU on all",
  async (t) => {
    const caps = join(home().cache, 'libvirt-warm', 'qemu', 'capabilities');
    if (!existsSync(caps)) t.is(virtlab(['run', 'kvm-macvtap', '--name', 'e2e-warm']).code, 0, 'a first run saves it');
    // what a QEMU upgrade does to the saved cache: libvirt finds it outdated and probes QEMU again
    const files = readdirSync(caps).filter((f) => f.endsWith('.xml'));
    t.not(files.length, 0);
    for (const f of files) {
      const p = join(caps, f);
      writeFileSync(p, readFileSync(p, 'utf8').replace(/<qemuctime>\d+</, '<qemuctime>12345<'));
    }
    const up = virtlab(['up', 'kvm-macvtap', '--name', 'e2e-warm']);
    try {
      t.is(up.code, 0, up.out);
      const kvm = attach('e2e-warm').machines.find((m) => m.name === 'kvm-01')!.exec;
      const fresh = await eventually(
        () => files.every((f) => !readFileSync(join(caps, f), 'utf8').includes('<qemuctime>12345<')),
        30000,
      );
      t.true(fresh, 'the saved cache holds what the machine probed');
      const affinity = async (pid: string) =>
        (await kvm.run(['taskset', '-pc', pid])).stdout.trim().replace(/.*: */, '');
      const libvirtd = (await kvm.run(['cat', '/run/libvirt/libvirtd.pid'])).stdout.trim();
      t.regex(await affinity(libvirtd), /^\d+$/, 'libvirtd runs on one CPU');
      const qemu = (await kvm.run(['pgrep', '-o', 'qemu-system'])).stdout.trim();
      const all = (await kvm.run(['taskset', '-pc', '1'])).stdout.trim().replace(/.*: */, '');
      t.is(await affinity(qemu), all, 'the guest runs on every CPU the machine may use');
    } finally {
      t.is(virtlab(['down', 'e2e-warm']).code, 0);
    }
  },
);
