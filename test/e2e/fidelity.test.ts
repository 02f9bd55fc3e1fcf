// The mac-filtering underlay: forgetting `promisc` leaves the guest without an address, as the original README
// warns; turning it on by hand heals the lab without a restart, and turning it off breaks it again.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { eventually, leftovers, orphanNamespaceProcesses, virtlab } from '../helpers/host.ts';

test.serial('kvm-macvtap --skip promisc fails for the right reason, and promisc by hand heals it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'virtlab-fid-'));
  const r = virtlab(
    ['run', 'kvm-macvtap', '--skip', 'promisc', '--keep', '--name', 'e2e-nopromisc', '--report-dir', dir],
    { env: { VIRTLAB_READY_TIMEOUT: '12' } },
  );
  const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  try {
    t.is(r.code, 1, r.out);
    t.regex(r.stdout, /skip promiscuous mode on for eth1 on kvm-01 \(skipped with --skip\)/);
    t.regex(
      r.stdout,
      /FAIL lease: guest cirros holds a DHCP lease\n\s+no lease for 52:54:00:[0-9a-f:]+ on the DHCP server of lan\n\s+hint: The guest got no address\. Is eth1 on kvm-01 promiscuous \(step `promisc`\)\?/,
    );
    t.regex(r.stdout, /FAIL ping-remote: remote-01 can ping cirros/);
    t.regex(
      r.stdout,
      /FAIL link-promisc: eth1 on kvm-01 is promiscuous\n\s+eth1 \(veth\) on kvm-01: PROMISC not set \(promiscuity 1\)/,
    );
    // the guest did try: it booted and asked for an address
    t.regex(readFileSync(join(dir, 'consoles', 'cirros.log'), 'utf8'), /virtlab-guest booted/);
    const on = virtlab(['ssh', 'e2e-nopromisc', 'kvm-01', '--', 'ip', 'link', 'set', 'eth1', 'promisc', 'on']);
    t.is(on.code, 0, on.out);
    let last = '';
    const healed = await eventually(() => {
      const c = virtlab(['check', 'e2e-nopromisc']);
      last = c.out;
      return c.code === 0;
    }, 45000);
    t.true(healed, last);
    t.regex(last, /ok ping-remote: remote-01 can ping cirros\n\s+1\/1 replies/);
    const off = virtlab(['ssh', 'e2e-nopromisc', 'kvm-01', '--', 'ip', 'link', 'set', 'eth1', 'promisc', 'off']);
    t.is(off.code, 0);
    const broken = await eventually(() => virtlab(['check', 'e2e-nopromisc']).code === 1, 15000);
    t.true(broken, "with promisc off again, the switch stops delivering the guest's frames");
  } finally {
    t.is(virtlab(['down', 'e2e-nopromisc']).code, 0);
  }
  t.deepEqual(leftovers('e2e-nopromisc', report.runId), []);
  t.deepEqual(orphanNamespaceProcesses(), []);
});
