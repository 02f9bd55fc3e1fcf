// Faults injected mid-run on real components: each ends with a clear message naming the machine, stage and cause,
// evidence collected, and a clean teardown.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { leftovers, orphanNamespaceProcesses, virtlab } from '../helpers/host.ts';
import { startVirtlab } from '../helpers/spawn.ts';

const state = (name: string) => JSON.parse(readFileSync(`/var/lib/virtlab/state/${name}.json`, 'utf8'));

/** Kills processes of a given name inside a machine's (or network's) namespace of a running instance. */
function killIn(name: string, owner: string, comm: string): number {
  const s = state(name);
  const ns = [...s.machines.map((m: any) => ({ name: m.name, ns: m.data.ns })), ...s.data.networks].find(
    (m: any) => m.name === owner,
  ).ns;
  const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
  let n = 0;
  for (const p of pids) {
    try {
      if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() === comm) {
        process.kill(Number(p), 'SIGKILL');
        n++;
      }
    } catch {
      /* gone */
    }
  }
  return n;
}

async function faultRun(t: any, name: string, stage: string, inject: () => number) {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-fault-'));
  // no retry: the fault is the point (a slow host could take a silent guest for a hung one and run again)
  const run = startVirtlab(['run', 'kvm-macvtap', '--name', name, '--report-dir', dir], {
    VIRTLAB_READY_TIMEOUT: '15',
    VIRTLAB_RETRY: '0',
  });
  await run.when((e) => e.type === 'stage-start' && e.stage === stage);
  t.true(inject() > 0, 'the fault was injected');
  // a whole run here takes ~15 s; a run still going after 3 min hangs, and says where
  const out = await run.doneWithin(180000);
  const end = run.events.find((e) => e.type === 'run-end');
  t.log(`exit ${out.code}: ${end?.message ?? ''}`);
  t.deepEqual(leftovers(name, run.events.find((e) => e.type === 'run-start').runId), []);
  t.deepEqual(orphanNamespaceProcesses(), []);
  t.true(run.events.some((e) => e.type === 'step-end' && e.id === 'leak-check' && e.status === 'ok'));
  return { ...out, end, dir, events: run.events };
}

test.serial("the guest's QEMU is killed while it boots", async (t) => {
  const r = await faultRun(t, 'rel-qemu', 'ready', () => killIn('rel-qemu', 'kvm-01', 'qemu-system-x86'));
  t.is(r.code, 1);
  const failed = r.events
    .filter((e) => e.type === 'assertion' && e.result.status === 'fail')
    .map((e) => e.result.reason)
    .join('\n');
  t.regex(failed, /no lease for 52:54:00:ff:55:d1 on the DHCP server of lan/);
  t.true(existsSync(join(r.dir, 'evidence', 'kvm-01', 'virsh-list.txt')));
  t.regex(readFileSync(join(r.dir, 'evidence', 'kvm-01', 'virsh-list.txt'), 'utf8'), /cirros\s+shut off/);
});

test.serial('libvirtd of kvm-01 is killed before the setup', async (t) => {
  // killed as the uploads begin: the first command that needs it is the setup's net-define (not a race with it)
  const r = await faultRun(t, 'rel-libvirtd', 'upload', () => killIn('rel-libvirtd', 'kvm-01', 'libvirtd'));
  t.is(r.code, 3);
  t.regex(
    r.end.message,
    /^stage setup: step net-define: define network "macvtap-net" on kvm-01: kvm-01: `virsh net-define \/root\/lab\/kvm-macvtap\/macvtap\.xml` failed \(exit 1\): .*(connect|socket)/,
  );
  t.true(existsSync(join(r.dir, 'evidence', 'kvm-01', 'ip-addr.json')), 'evidence is collected on an error too');
  t.regex(readFileSync(join(r.dir, 'junit.xml'), 'utf8'), /<error message="stage setup: step net-define/);
});

test.serial('every sshd of remote-01 is killed before the checks', async (t) => {
  const r = await faultRun(t, 'rel-sshd', 'ready', () => killIn('rel-sshd', 'remote-01', 'sshd'));
  t.is(r.code, 1);
  const ping = r.events.find((e) => e.type === 'assertion' && e.result.id === 'ping-remote').result;
  t.is(ping.status, 'fail');
  t.regex(ping.reason, /cannot connect to remote-01 over ssh/);
});

test.serial("the LAN's DHCP server is killed before the guest asks", async (t) => {
  const r = await faultRun(t, 'rel-dhcp', 'upload', () => killIn('rel-dhcp', 'lan', 'dnsmasq'));
  t.is(r.code, 1, `${r.end?.message}\n${r.stderr}`);
  const lease = r.events.find((e) => e.type === 'assertion' && e.result.id === 'lease').result;
  t.regex(
    lease.reason,
    /no lease for 52:54:00:ff:55:d1 on the DHCP server of lan \(the DHCP server of lan is not running\)/,
  );
});

test.serial('a state folder that cannot be written: refused before anything is created', (t) => {
  const base = mkdtempSync(join(tmpdir(), 'virtlab-ro-'));
  const ro = join(base, 'home');
  mkdirSync(ro);
  execFileSync('mount', ['--bind', ro, ro]);
  execFileSync('mount', ['-o', 'remount,bind,ro', ro]);
  try {
    const r = virtlab(['run', 'kvm-macvtap', '--name', 'rel-ro'], {
      env: { VIRTLAB_HOME: ro, VIRTLAB_CACHE: '/var/lib/virtlab/cache' },
    });
    t.is(r.code, 3, r.out);
    t.regex(
      r.stderr,
      /virtlab: the host is not ready for lab kvm-macvtap:\n {2}- cannot write state file .*: .*home is not writable \(read-only file system\)\n {4}fix: virtlab needs a writable VIRTLAB_HOME/,
    );
    t.deepEqual(
      readdirSync('/run/netns').filter((n) => n.startsWith('vl-rel-ro-')),
      [],
    );
  } finally {
    spawnSync('umount', [ro]);
  }
});
