// The main job, end to end on real libvirtd, QEMU (TCG), dnsmasq and sshd: `virtlab run kvm-macvtap`.

import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { leftovers, orphanNamespaceProcesses, virtlab } from '../helpers/host.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'virtlab-e2e-'));

test.serial('kvm-macvtap: all assertions pass and nothing is left behind', (t) => {
  const dir = tmp();
  const r = virtlab(['run', 'kvm-macvtap', '--name', 'e2e-main', '--report-dir', dir]);
  t.is(r.code, 0, r.out);
  const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  t.is(report.result, 'pass');
  t.is(report.assertions.length, 10);
  for (const a of report.assertions) t.is(a.status, 'pass', `${a.id}: ${a.reason}`);
  const byId = Object.fromEntries(report.assertions.map((a: any) => [a.id, a]));
  // real outcomes, not just statuses
  const mac = report.steps.find((s: any) => s.id === 'guest').detail.replace('mac ', '');
  t.regex(byId.lease.reason, new RegExp(`${mac} holds 192\\.168\\.100\\.\\d+`));
  t.regex(byId['ping-remote'].reason, /^1\/1 replies from 192\.168\.100\.\d+$/);
  t.is(byId['ping-host'].observed, 'fail');
  t.regex(byId['ping-host'].reason, /fails as expected: 0\/1 replies/);
  t.regex(byId.arp.reason, new RegExp(`is at ${mac}`));
  t.regex(byId['mac-match'].reason, new RegExp(`guest says ${mac}, macvtap\\d+ on kvm-01 has ${mac}`));
  t.regex(byId['link-promisc'].reason, /PROMISC set/);
  t.regex(byId['link-macvtap'].reason, /macvtap\d+ \(macvtap\) on kvm-01: no IPv4 address/);
  // from inside the guest, over its serial console
  t.regex(byId['guest-ping-remote'].reason, /^1\/1 replies from 192\.168\.100\.102$/);
  t.regex(byId['guest-arp'].reason, /^192\.168\.100\.102 is at 52:54:00:[0-9a-f:]{8} on eth0$/);
  t.regex(byId['guest-ip'].reason, /^eth0 of cirros has (192\.168\.100\.\d+); lease \1$/);
  // reports
  const junit = readFileSync(join(dir, 'junit.xml'), 'utf8');
  t.regex(junit, /tests="10" failures="0"/);
  t.regex(
    readFileSync(join(dir, 'consoles', 'cirros.log'), 'utf8'),
    new RegExp(`virtlab-guest ready hostname=cirros ip=192\\.168\\.100\\.\\d+ mac=${mac}`),
  );
  t.is(report.machines.find((m: any) => m.name === 'kvm-01').libvirt, '9.0.0');
  t.deepEqual(leftovers('e2e-main', report.runId), []);
  t.deepEqual(orphanNamespaceProcesses(), []);
  t.false(existsSync(join(dir, 'evidence')), 'evidence is collected only on failure');
});

test.serial(
  'a broken variant (guest on a LAN remote-01 is not on) fails with exit 1, evidence, and a clean host',
  (t) => {
    const dir = tmp();
    const r = virtlab(['run', 'test/fixtures/labs/broken.yml', '--name', 'e2e-broken', '--report-dir', dir]);
    t.is(r.code, 1, r.out);
    t.regex(
      r.stdout,
      /FAIL ping-remote: remote-01 can ping cirros\n\s+ping 10\.77\.0\.\d+ exited 2: ping: connect: Network is unreachable\n\s+hint: remote-01 and the guest are on different LANs/,
    );
    t.regex(
      r.stdout,
      /ok lease: guest cirros holds a DHCP lease\n\s+52:54:00:[0-9a-f:]+ holds 10\.77\.0\.\d+ from the DHCP server of island/,
    );
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    t.is(report.result, 'fail');
    t.is(report.exitCode, 1);
    for (const f of [
      'evidence/kvm-01/ip-addr.json',
      'evidence/kvm-01/dumpxml-cirros.xml',
      'evidence/remote-01/ip-neigh.json',
      'evidence/network-island/leases',
      'consoles/cirros.log',
    ]) {
      t.true(existsSync(join(dir, f)), `missing evidence ${f}`);
    }
    t.regex(
      readFileSync(join(dir, 'junit.xml'), 'utf8'),
      /<failure message="ping 10\.77\.0\.\d+ exited 2: ping: connect: Network is unreachable \(hint: remote-01 and the guest are on different LANs\)"/,
    );
    t.deepEqual(leftovers('e2e-broken', report.runId), []);
    t.deepEqual(orphanNamespaceProcesses(), []);
  },
);

test.serial('--keep leaves the lab up for virtlab ssh and check; virtlab down removes it', (t) => {
  const dir = tmp();
  const r = virtlab(['run', 'kvm-macvtap', '--name', 'e2e-keep', '--keep', '--report-dir', dir]);
  t.is(r.code, 0, r.out);
  t.regex(r.stdout, /virtlab ssh e2e-keep kvm-01/);
  const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  try {
    const list = virtlab(['ssh', 'e2e-keep', 'kvm-01', '--', 'virsh', 'list', '--name']);
    t.is(list.code, 0, list.out);
    t.is(list.stdout.trim(), 'cirros');
    const host = virtlab(['ssh', 'e2e-keep', 'remote-01', '--', 'hostname']);
    t.is(host.stdout.trim(), 'remote-01');
    const st = virtlab(['status']);
    t.regex(st.stdout, /e2e-keep {2}lab kvm-macvtap, run [0-9a-f]{6}, up/);
    const chk = virtlab(['check', 'e2e-keep']);
    t.is(chk.code, 0, chk.out);
    t.regex(chk.stdout, /PASS {2}10\/10 assertions as expected/);
  } finally {
    const d = virtlab(['down', 'e2e-keep']);
    t.is(d.code, 0, d.out);
    t.regex(d.stdout, /e2e-keep: removed \(\d+ resources of run [0-9a-f]{6}\); nothing left/);
  }
  t.deepEqual(leftovers('e2e-keep', report.runId), []);
  t.deepEqual(orphanNamespaceProcesses(), []);
});
