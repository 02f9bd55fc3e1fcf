// `virtlab init [dir]`: a starter project of the user's own (a lab, machines.yml, a playbook), each file with the
// schema line editors use, ready for `virtlab run starter` in that folder. Nothing that exists is overwritten.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { EXIT, UsageError } from '../errors.ts';
import { packageRoot } from '../lab/load.ts';
import type { Options } from './args.ts';

const lab = (schema: string) => `# yaml-language-server: $schema=${schema}
# A starter lab: a hypervisor with a libvirt macvtap network, a guest on it, and a peer that must reach the guest.
# Labs are YAML 1.2. Run it with: virtlab run starter     Every field: virtlab's docs/lab-format.md
description: A guest on a macvtap network that a peer on the LAN can ping
networks:
  lan:
    subnet: 192.168.50.0/24
    gateway: 192.168.50.1
    dhcp: { start: 192.168.50.100, end: 192.168.50.199 }
machines:
  hv-01:
    role: hypervisor
    nics:
      eth1: { network: lan, ip: 192.168.50.11 }
  peer-01:
    role: peer
    nics:
      eth1: { network: lan, ip: 192.168.50.12 }
steps:
  - id: upload
    kind: upload
    to: hv-01
    files: [starter/macvtap.xml]
    images: [cirros]
  - id: net-define
    kind: net-define
    on: hv-01
    xml: starter/macvtap.xml
  - id: net-start
    kind: net-start
    on: hv-01
    network: macvtap-net
  - id: promisc
    kind: promisc
    on: hv-01
    nic: eth1
  - id: guest
    kind: guest
    on: hv-01
    name: guest-01
    image: cirros
    ram: 128
    network: macvtap-net
assertions:
  - id: lease
    kind: lease
    guest: guest-01
  - id: peer-reaches-guest
    kind: ping
    from: peer-01
    to: guest-01
  - id: hypervisor-cannot
    kind: ping
    from: hv-01
    to: guest-01
    expect: fail
    description: macvtap isolates a hypervisor from its own guests
`;

const XML = `<network>
  <name>macvtap-net</name>
  <forward mode="bridge">
    <interface dev="eth1"/>
  </forward>
</network>
`;

const machines = (schema: string) => `# yaml-language-server: $schema=${schema}
# The project's machines: hypervisors and peers the labs name. provider: vm makes one a QEMU VM with its own kernel.
machines:
  hv-01:
    role: hypervisor
    ram: 1024
    vcpu: 1
    provision: provision.yml
  peer-01:
    role: peer
    ram: 256
`;

const playbook = (schema: string) => `# yaml-language-server: $schema=${schema}
# Run on hv-01 before the lab's steps, by virtlab's Ansible subset (provisioner: ansible runs ansible-playbook).
- hosts: hypervisors
  become: yes
  tasks:
    - name: the tools the lab uses are there
      apt: name=iproute2,libvirt-clients state=present
    - name: a folder for the lab's files
      file: path=/root/lab state=directory mode=0755
`;

export function init(o: Options): number {
  const dir = resolve(o.args[0] ?? '.');
  const files: [string, string][] = [
    ['labs/starter.yml', lab(join(packageRoot(), 'schema/lab.schema.json'))],
    ['labs/starter/macvtap.xml', XML],
    ['machines.yml', machines(join(packageRoot(), 'schema/machines.schema.json'))],
    ['playbooks/provision.yml', playbook(join(packageRoot(), 'schema/playbook.schema.json'))],
  ];
  const there = files.map(([f]) => f).filter((f) => existsSync(join(dir, f)));
  if (there.length)
    throw new UsageError(
      `${dir} already has ${there.join(', ')}: nothing was written`,
      'virtlab init <new folder> writes a starter project there',
    );
  for (const [f, text] of files) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  const rel = relative(process.cwd(), dir) || '.';
  const where = rel.startsWith('..') ? dir : rel;
  console.log(`wrote a starter project in ${dir}:`);
  for (const [f] of files) console.log(`  ${f}`);
  console.log(`next: cd ${where} && virtlab validate && virtlab run starter`);
  return EXIT.ok;
}
