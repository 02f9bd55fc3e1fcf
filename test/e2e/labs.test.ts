// The other classic labs, end to end on real components, each expected failure exercised.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { leftovers, orphanNamespaceProcesses, virtlab } from '../helpers/host.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'virtlab-labs-'));
const report = (dir: string) => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));

/** Runs a lab that must pass; its report, and its assertions by id. */
function runPassing(t: ExecutionContext, lab: string, name: string): { dir: string; rep: any; a: Record<string, any> } {
  const dir = tmp();
  const r = virtlab(['run', lab, '--name', name, '--report-dir', dir]);
  t.is(r.code, 0, r.out);
  const rep = report(dir);
  return { dir, rep, a: Object.fromEntries(rep.assertions.map((x: any) => [x.id, x])) };
}

test.serial('macvtap-modes: every mode x hairpin variant matches the measured table', (t) => {
  const dir = tmp();
  const r = virtlab(['run', 'macvtap-modes', '--name', 'e2e-modes', '--report-dir', dir], { timeoutMs: 600000 });
  t.is(r.code, 0, r.out);
  t.regex(r.stdout, /macvtap-modes: 6 variants/);
  const expected: Record<string, { g2g: string; host: string }> = {
    bridge: { g2g: 'pass', host: 'fail' },
    'bridge-hairpin': { g2g: 'pass', host: 'pass' },
    vepa: { g2g: 'fail', host: 'fail' },
    'vepa-hairpin': { g2g: 'pass', host: 'pass' },
    private: { g2g: 'fail', host: 'fail' },
    'private-hairpin': { g2g: 'fail', host: 'pass' },
  };
  for (const [variant, e] of Object.entries(expected)) {
    const rep = report(join(dir, variant));
    t.is(rep.result, 'pass', variant);
    const cells = rep.assertions[0].cells as { from: string; to: string; observed: string; status: string }[];
    t.is(cells.length, 7);
    const obs = (f: string, to: string) => cells.find((c) => c.from === f && c.to === to)!.observed;
    // observed outcomes, not only "as expected"
    t.is(obs('guest1', 'guest2'), e.g2g, `${variant} guest1 -> guest2`);
    t.is(obs('guest2', 'guest1'), e.g2g, `${variant} guest2 -> guest1`);
    t.is(obs('kvm-01', 'guest1'), e.host, `${variant} kvm-01 -> guest1`);
    t.is(obs('remote-01', 'guest2'), 'pass', `${variant} remote-01 -> guest2`);
    t.regex(readFileSync(join(dir, variant, 'junit.xml'), 'utf8'), /tests="7" failures="0"/);
    t.deepEqual(leftovers('e2e-modes', rep.runId), []);
  }
  t.deepEqual(orphanNamespaceProcesses(), []);
});

test.serial('kvm-nat-hostonly: NAT masquerades, host-only isolates, a NIC attached live gets a lease', (t) => {
  const { rep, a } = runPassing(t, 'kvm-nat-hostonly', 'e2e-nat');
  t.regex(a['lease-nat'].reason, /holds 192\.168\.100\.\d+ from libvirt network natntw on kvm-01/);
  t.regex(a['lease-host'].reason, /holds 192\.168\.110\.\d+ from libvirt network hostntw on kvm-01/);
  t.regex(a['lease-attached'].reason, /holds 192\.168\.110\.\d+ from libvirt network hostntw on kvm-01/);
  t.is(a['nat-source'].reason, "remote-01 sees guest-nat's pings coming from 10.0.50.11 (expected 10.0.50.11)");
  t.is(a['nat-out'].observed, 'pass');
  for (const id of ['nat-in', 'hostonly-out', 'hostonly-in']) {
    t.is(a[id].observed, 'fail', id);
    t.regex(
      a[id].reason,
      /^fails as expected: 0\/1 replies/,
      `${id} must fail because of libvirt's rules, not for lack of a route`,
    );
  }
  t.is(a['hostonly-from-host'].observed, 'pass');
  t.deepEqual(leftovers('e2e-nat', rep.runId), []);
  t.deepEqual(orphanNamespaceProcesses(), []);
});

test.serial('kvm-routed: the peer reaches the routed guest through proxy ARP, never seeing its MAC', (t) => {
  const { rep, a } = runPassing(t, 'kvm-routed', 'e2e-routed');
  t.is(a.lease.reason, '52:54:00:10:00:50 holds 192.168.100.50 from /root/lab/routed.leases on kvm-01');
  t.is(a['ping-remote'].reason, '1/1 replies from 192.168.100.50');
  t.is(a['guest-out'].reason, '1/1 replies from 192.168.100.102');
  t.regex(a['proxy-arp'].reason, /^192\.168\.100\.50 is at (52:54:00:[0-9a-f:]{8}) \(kvm-01's MAC\)/);
  t.is(a['guest-mac-hidden'].observed, 'fail');
  t.notRegex(a['proxy-arp'].reason, /52:54:00:10:00:50/);
  t.deepEqual(leftovers('e2e-routed', rep.runId), []);
  t.deepEqual(orphanNamespaceProcesses(), []);
});

test('virtlab list shows every lab with its description', (t) => {
  const r = virtlab(['list']);
  t.is(r.code, 0);
  for (const lab of ['kvm-macvtap', 'kvm-nat-hostonly', 'kvm-routed', 'macvtap-modes'])
    t.regex(r.stdout, new RegExp(`^${lab} +\\S.+$`, 'm'));
});

test.serial('macvtap-direct: a static guest on a direct macvtap; a foreign MAC breaks it, restoring heals it', (t) => {
  const { dir, rep, a } = runPassing(t, 'macvtap-direct', 'e2e-direct');
  for (const p of ['1', '3'])
    for (const id of [`gateway-${p}`, `remote-${p}`, `from-remote-${p}`]) t.is(a[id].observed, 'pass', id);
  for (const id of ['gateway-2', 'remote-2', 'from-remote-2'])
    t.regex(a[id].reason, /^fails as expected: 0\/2 replies/, id);
  t.regex(a['mac-match'].reason, /guest says 52:54:00:d1:00:60, macvtap\d+ on kvm-01 has 52:54:00:d1:00:60/);
  // the phases ran in order, inside the setup
  const order = rep.steps.filter((s: any) => s.stage === 'setup').map((s: any) => s.id);
  t.deepEqual(order, ['guest', 'phase-1', 'change-mac', 'phase-2', 'restore-mac', 'phase-3']);
  t.regex(
    readFileSync(join(dir, 'consoles', 'cirros.log'), 'utf8'),
    /virtlab-guest ready hostname=cirros ip=192\.168\.100\.60 mac=52:54:00:d1:00:60 iface=eth0 static/,
  );
  t.deepEqual(leftovers('e2e-direct', rep.runId), []);
});

test.serial('qemu-macvtap: bare QEMU on a macvtap made with ip link behaves like the libvirt lab', (t) => {
  const { rep, a } = runPassing(t, 'qemu-macvtap', 'e2e-qemu');
  t.regex(a['mac-match'].reason, /guest says (52:54:00:[0-9a-f:]{8}), mvt-cirros on kvm-01 has \1$/);
  t.regex(a['link-macvtap'].reason, /^mvt-cirros \(macvtap\) on kvm-01: no IPv4 address$/);
  t.is(a['ping-host'].observed, 'fail');
  t.regex(a['ping-remote'].reason, /^1\/1 replies from 192\.168\.100\.\d+$/);
  t.regex(a['guest-ip'].reason, /^eth0 of cirros has (192\.168\.100\.\d+); lease \1$/);
  // no libvirt domain was involved
  const guest = rep.steps.find((s: any) => s.id === 'guest');
  t.regex(guest.title, /bare QEMU on a macvtap of eth1/);
  t.deepEqual(leftovers('e2e-qemu', rep.runId), []);
});
