// Three labs at once; the same instance twice; secrets and permissions; hostile values end to end.

import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { leftovers, orphanNamespaceProcesses, virtlab } from '../helpers/host.ts';
import { startVirtlab } from '../helpers/spawn.ts';

test.serial('three different labs at once all pass, without collisions', async (t) => {
  const runs = [
    ['kvm-macvtap', 'rel-c1'],
    ['kvm-routed', 'rel-c2'],
    ['kvm-nat-hostonly', 'rel-c3'],
  ].map(([lab, name]) => ({
    name,
    run: startVirtlab(['run', lab!, '--name', name!], { VIRTLAB_READY_TIMEOUT: '90' }),
  }));
  const done = await Promise.all(runs.map((r) => r.run.done));
  for (const [i, d] of done.entries()) {
    t.is(
      d.code,
      0,
      `${runs[i]!.name}: ${d.stdout
        .split('\n')
        .filter((l) => l.includes('"fail"') || l.includes('run-end'))
        .join('\n')}`,
    );
    t.deepEqual(leftovers(runs[i]!.name, runs[i]!.run.events.find((e) => e.type === 'run-start').runId), []);
  }
  t.deepEqual(orphanNamespaceProcesses(), []);
});

test.serial('the same instance started twice is refused, naming the running one', async (t) => {
  const first = startVirtlab(['up', 'kvm-macvtap', '--name', 'rel-dup']);
  const start = await first.when((e) => e.type === 'run-start');
  const second = virtlab(['up', 'kvm-macvtap', '--name', 'rel-dup']);
  t.is(second.code, 3);
  t.regex(
    second.stderr,
    new RegExp(`lab instance "rel-dup" is up \\(run ${start.runId}, started .*, runner pid \\d+\\)`),
  );
  t.regex(second.stderr, /hint: remove it with: virtlab down rel-dup/);
  t.is((await first.done).code, 0);
  // while it is up: secrets and permissions
  const s = JSON.parse(readFileSync('/var/lib/virtlab/state/rel-dup.json', 'utf8'));
  const mode = (p: string) => statSync(p).mode & 0o777;
  try {
    t.is(mode(s.keyFile), 0o600, 'private key 0600');
    t.is(mode(join(s.runDir, 'keys')), 0o700, 'key folder 0700');
    t.is(mode('/var/lib/virtlab/state/rel-dup.json'), 0o600, 'state file 0600');
    t.is(mode('/var/lib/virtlab/state'), 0o700, 'state folder 0700');
    t.is(mode(s.runDir), 0o700, 'run folder 0700');
    for (const m of s.machines) t.is(mode(join(m.data.dir, 'ssh', 'host_ed25519')), 0o600, `${m.name} host key 0600`);
    // sshd listens only on the management address
    for (const m of s.machines) {
      const l = virtlab(['ssh', 'rel-dup', m.name, '--', 'ss', '-Hltn']);
      const listening = l.stdout
        .trim()
        .split('\n')
        .map((x) => x.trim().split(/\s+/)[3])
        .filter((a) => a?.endsWith(':22'));
      t.deepEqual(listening, [`${m.address}:22`], `${m.name}: ${l.stdout}`);
    }
    // a hostile value lands as one literal argument, through ssh and through the guest's console
    const hostile = `$(touch /tmp/pwned); rm -rf / ; \`id\` 'q' "d" \\ * ?`;
    const r = virtlab(['ssh', 'rel-dup', 'kvm-01', '--', 'printf', '%s', hostile]);
    t.is(r.stdout, hostile);
    t.false(existsSync('/tmp/pwned'));
  } finally {
    t.is(virtlab(['down', 'rel-dup']).code, 0);
  }
  // reports never hold private keys
  const files: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d, { withFileTypes: true }))
      f.isDirectory() ? walk(join(d, f.name)) : files.push(join(d, f.name));
  };
  walk(s.runDir);
  for (const f of files) t.notRegex(readFileSync(f, 'utf8'), /PRIVATE KEY/, f);
  t.false(existsSync(join(s.runDir, 'keys')));
  t.deepEqual(leftovers('rel-dup', s.runId), []);
});

test.serial('a report folder given by the user gets no private key and is not world-readable', (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'virtlab-sec-')), 'report');
  const r = virtlab(['run', 'kvm-routed', '--name', 'rel-sec', '--report-dir', dir]);
  t.is(r.code, 0, r.out);
  t.is(statSync(dir).mode & 0o077, 0);
  t.is(statSync(join(dir, 'report.json')).mode & 0o077, 0);
  t.notRegex(readFileSync(join(dir, 'report.json'), 'utf8'), /PRIVATE KEY|BEGIN OPENSSH/);
});
