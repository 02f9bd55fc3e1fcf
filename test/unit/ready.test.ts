// The ready wait against replayed output: a guest with a NIC attached later (kvm-nat-hostonly's guest-nat) is ready
// only once that NIC holds its lease too, however the first NIC's readiness was seen.

import test from 'ava';
import { waitReady } from '../../src/kinds/ready.ts';
import { loadLab } from '../../src/lab/load.ts';
import type { Lab } from '../../src/lab/model.ts';
import { FakeExecutor, fakeSession } from '../helpers/fakes.ts';

const lab: Lab = loadLab('kvm-nat-hostonly');
const g = lab.guests.find((x) => x.name === 'guest-nat')!;
const attached = g.nics.find((n) => n.network === 'hostntw')!;
const HEADER =
  ' Expiry Time           MAC address         Protocol   IP address           Hostname   Client ID or DUID\n' +
  '------------------------------------------------------------------------------------------------------------\n';
const lease = (mac: string, ip: string) =>
  `${HEADER} 2026-12-03 12:50:28   ${mac}   ipv4       ${ip}/24   cirros     -\n`;
const booted = `virtlab-guest booted mac=${g.mac}\n=== network info ===\n`;
const readyLine = `virtlab-guest ready hostname=cirros ip=192.168.100.203 mac=${g.mac} iface=eth0\n`;
// the same line with a kernel message written into the middle of it on the serial console
const garbled = `virtlab-guest ready hostname=cirros ip=192.168.10[    3.201] random: crng init done\n0.203 mac=${g.mac} iface=eth0\n`;

function session(consoleText: string, attachedLease: boolean) {
  const kvm = new FakeExecutor('kvm-01', [
    { when: /^cat \/var\/log\/libvirt\/qemu\/guest-nat-console\.log$/, stdout: consoleText },
    { when: /^virsh net-dhcp-leases natntw$/, stdout: lease(g.mac, '192.168.100.203') },
    {
      when: /^virsh net-dhcp-leases hostntw$/,
      stdout: attachedLease ? lease(attached.mac, '192.168.110.194') : HEADER,
    },
  ]);
  return fakeSession(lab, { 'kvm-01': kvm });
}

const ran = new Set(lab.steps.map((s) => s.id));

for (const [how, text] of [
  ['its ready line', booted + readyLine],
  ["CirrOS's line (its ready line garbled)", booted + garbled],
] as const) {
  test(`first NIC up by ${how}: not ready while the attached NIC has no lease`, async (t) => {
    const e = await t.throwsAsync(waitReady(session(text, false), g, 400, ran));
    t.regex(e!.message, /no lease yet for its NIC on hostntw/);
  });

  test(`first NIC up by ${how}: ready once the attached NIC holds its lease`, async (t) => {
    const r = await waitReady(session(text, true), g, 2000, ran);
    t.is(r.ip, '192.168.100.203');
  });
}

test('a NIC attached by a step that did not run is not waited for', async (t) => {
  const r = await waitReady(session(booted + readyLine, false), g, 2000, new Set(['guest-nat']));
  t.is(r.mac, g.mac);
});
