import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { loadLab } from '../../src/lab/load.ts';

test('the richer machines.yml form (a machines: mapping with roles) is accepted', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'virtlab-cat-'));
  mkdirSync(join(root, 'labs', 'l'), { recursive: true });
  mkdirSync(join(root, 'playbooks'));
  writeFileSync(
    join(root, 'machines.yml'),
    'machines:\n  hv-1: { role: hypervisor, ram: 4096, vcpu: 2, ip_addr: 10.9.0.5, provider: netns }\n  peer-1: { role: peer }\n',
  );
  copyFileSync('labs/kvm-macvtap/macvtap.xml', join(root, 'labs', 'l', 'net.xml'));
  writeFileSync(
    join(root, 'labs', 'l.yml'),
    `description: rich
networks: { lan: { subnet: 10.9.0.0/24 } }
machines:
  hv-1: { role: hypervisor, nics: { eth1: { network: lan } } }
  peer-1: { role: peer, nics: { eth1: { network: lan } } }
steps:
  - { id: up, kind: upload, to: hv-1, files: [l/net.xml] }
assertions:
  - { kind: ping, from: peer-1, to: hv-1 }
`,
  );
  const lab = loadLab('l', root);
  const hv = lab.machines.find((m) => m.name === 'hv-1')!;
  t.is(hv.ram, 4096);
  t.is(hv.nics[0]!.address, '10.9.0.5/24');
  t.is(lab.machines.find((m) => m.name === 'peer-1')!.nics[0]!.address, '10.9.0.10/24'); // allocated
  t.deepEqual(lab.networks[0]!.dhcp, { start: '10.9.0.127', end: '10.9.0.254' });
});
